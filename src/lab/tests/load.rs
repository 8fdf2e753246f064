//! Bad lab folders: each refused with one line that names the file.

use std::fs;

use super::*;

/// A named way to spoil a lab folder.
type Case = (&'static str, fn(&Path));

fn site_to_site() -> Scenario {
    Scenario::load("site-to-site").unwrap()
}

/// A fresh site-to-site lab folder, and the error loading it gives after
/// `spoil` changed it.
fn spoiled(spoil: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf, LabError) {
    let s = site_to_site();
    let (tmp, dir) = fresh(&s, &InitOptions::default());
    spoil(&dir);
    let err = load(&dir, &s).expect_err("a spoiled lab folder loads");
    (tmp, dir, err)
}

#[test]
fn a_missing_gateway_folder_is_named_with_the_expected_ones() {
    let (_tmp, dir, err) = spoiled(|d| fs::remove_dir_all(d.join("gateway-b")).unwrap());
    assert!(matches!(&err, LabError::MissingGateway { gateway, .. } if gateway == "gateway-b"), "{err}");
    let text = message(err);
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(text.contains("gateway-a, gateway-b, gateway-s"), "{text}");
    assert!(text.contains(&format!("`imgtool lab init {} site-to-site --force`", dir.display())), "{text}");
}

#[test]
fn an_extra_folder_is_named_with_the_gateways() {
    let (_tmp, _dir, err) = spoiled(|d| fs::create_dir(d.join("gateway-x")).unwrap());
    assert!(matches!(&err, LabError::ExtraFolder { name, .. } if name == "gateway-x"), "{err}");
    let text = message(err);
    assert!(text.contains("gateway-x") && text.contains("gateway-a, gateway-b, gateway-s"), "{text}");
}

#[test]
fn a_file_that_is_not_utf8_is_named() {
    let (_tmp, dir, err) = spoiled(|d| fs::write(d.join("gateway-a").join(SWANCTL_CONF), b"conn\xff\xfe").unwrap());
    assert!(matches!(err, LabError::NotUtf8 { .. }), "{err}");
    let text = message(err);
    assert!(text.contains(&dir.join("gateway-a").join(SWANCTL_CONF).display().to_string()), "{text}");
    assert!(text.contains("UTF-8"), "{text}");
}

#[test]
fn a_10_mb_file_is_refused_with_the_limit() {
    let (_tmp, _dir, err) = spoiled(|d| {
        let f = fs::OpenOptions::new().write(true).open(d.join("gateway-s").join(FIREWALL_NFT)).unwrap();
        f.set_len(10_000_000).unwrap();
    });
    assert!(matches!(err, LabError::TooLarge { size: 10_000_000, .. }), "{err}");
    let text = message(err);
    assert!(text.contains("gateway-s/firewall.nft") && text.contains(&MAX_FILE_BYTES.to_string()), "{text}");
    assert!(text.contains("over the limit of 1 MiB"), "{text}");
}

#[cfg(unix)]
#[test]
fn links_are_refused_wherever_they_point() {
    use std::os::unix::fs::symlink;
    let cases: [Case; 3] = [
        ("a key linked to a file outside", |d| {
            fs::create_dir_all(d.join("gateway-a/swanctl/pkcs8")).unwrap();
            symlink("/etc/passwd", d.join("gateway-a/swanctl/pkcs8/gateway-a.key")).unwrap();
        }),
        ("a config linked to one inside", |d| {
            fs::remove_file(d.join("gateway-b").join(SWANCTL_CONF)).unwrap();
            symlink(d.join("gateway-a").join(SWANCTL_CONF), d.join("gateway-b").join(SWANCTL_CONF)).unwrap();
        }),
        ("a gateway folder linked to one outside", |d| {
            let outside = d.parent().unwrap().join("elsewhere");
            fs::rename(d.join("gateway-s"), &outside).unwrap();
            symlink(&outside, d.join("gateway-s")).unwrap();
        }),
    ];
    for (what, spoil) in cases {
        let (_tmp, _dir, err) = spoiled(spoil);
        assert!(matches!(err, LabError::Symlink { .. }), "{what}: {err}");
        assert!(message(err).contains("symbolic link"), "{what}");
    }
}

#[cfg(unix)]
#[test]
fn a_special_file_is_refused() {
    let (_tmp, _dir, err) = spoiled(|d| {
        fs::create_dir_all(d.join("gateway-a/swanctl/x509")).unwrap();
        std::os::unix::net::UnixListener::bind(d.join("gateway-a/swanctl/x509/s")).unwrap();
    });
    assert!(matches!(err, LabError::NotRegular { .. }), "{err}");
    assert!(message(err).contains("gateway-a/swanctl/x509/s is not a regular file"));
}

#[test]
fn names_with_dot_dot_are_refused() {
    let (_tmp, _dir, err) = spoiled(|d| {
        fs::create_dir_all(d.join("gateway-a/swanctl/x509")).unwrap();
        fs::write(d.join("gateway-a/swanctl/x509/a..pem"), "PEM").unwrap();
    });
    assert!(matches!(err, LabError::BadName { .. }), "{err}");
    assert!(message(err).contains("a..pem"));
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_or_hold_a_newline_are_refused_in_one_line() {
    use std::os::unix::ffi::OsStrExt;
    for name in [&b"\xff.pem"[..], b"two\nlines.pem"] {
        let (_tmp, _dir, err) = spoiled(|d| {
            fs::create_dir_all(d.join("gateway-a/swanctl/x509")).unwrap();
            fs::write(d.join("gateway-a/swanctl/x509").join(std::ffi::OsStr::from_bytes(name)), "PEM").unwrap();
        });
        assert!(matches!(err, LabError::BadName { .. }), "{err}");
        message(err);
    }
}

#[test]
fn files_the_gateway_does_not_use_are_refused() {
    let cases: [Case; 4] = [
        ("gateway-a/notes.txt", |d| fs::write(d.join("gateway-a/notes.txt"), "notes").unwrap()),
        ("gateway-a/swanctl/pkcs12", |d| {
            fs::create_dir_all(d.join("gateway-a/swanctl/pkcs12")).unwrap();
        }),
        ("gateway-a/swanctl/x509/deeper", |d| fs::create_dir_all(d.join("gateway-a/swanctl/x509/deeper")).unwrap()),
        ("gateway-a/swanctl/swanctl.conf", |d| {
            fs::create_dir_all(d.join("gateway-a/swanctl")).unwrap();
            fs::write(d.join("gateway-a/swanctl/swanctl.conf"), "connections {}\n").unwrap();
        }),
    ];
    for (path, spoil) in cases {
        let (_tmp, _dir, err) = spoiled(spoil);
        assert!(matches!(err, LabError::Unexpected { .. }), "{path}: {err}");
        let text = message(err);
        assert!(text.contains(path) && text.contains("x509ca"), "{path}: {text}");
    }
}

#[test]
fn a_missing_config_file_says_how_to_get_it_back() {
    let (_tmp, _dir, err) = spoiled(|d| fs::remove_file(d.join("gateway-s").join(FIREWALL_NFT)).unwrap());
    assert!(matches!(err, LabError::MissingFile { .. }), "{err}");
    let text = message(err);
    assert!(text.contains("gateway-s/firewall.nft is missing") && text.contains("site-to-site --force"), "{text}");
}

#[test]
fn too_many_files_are_refused() {
    let (_tmp, _dir, err) = spoiled(|d| {
        fs::create_dir_all(d.join("gateway-a/swanctl/x509ca")).unwrap();
        for i in 0..MAX_FILES_PER_GATEWAY {
            fs::write(d.join(format!("gateway-a/swanctl/x509ca/ca{i}.pem")), "PEM").unwrap();
        }
    });
    assert!(matches!(err, LabError::TooManyFiles { limit: MAX_FILES_PER_GATEWAY, .. }), "{err}");
    message(err);
}

#[test]
fn a_lab_folder_for_another_scenario_is_refused() {
    let (_tmp, dir) = fresh(&Scenario::load("host-to-host").unwrap(), &InitOptions::default());
    let err = load(&dir, &site_to_site()).unwrap_err();
    assert!(matches!(err, LabError::OtherScenario { .. }), "{err}");
    let text = message(err);
    assert!(text.contains("for scenario host-to-host, not site-to-site"), "{text}");

    fs::write(dir.join(LAB_TOML), "scenario = [1,\n").unwrap();
    let err = load(&dir, &site_to_site()).unwrap_err();
    assert!(matches!(err, LabError::BadLabToml { .. }), "{err}");
    assert!(message(err).contains("lab.toml"));
}

#[test]
fn no_lab_folder_says_how_to_make_one() {
    let tmp = tempfile::tempdir().unwrap();
    let err = load(&tmp.path().join("nothing"), &site_to_site()).unwrap_err();
    assert!(matches!(err, LabError::NoLab { .. }), "{err}");
    assert!(message(err).contains("imgtool lab init"));
}

#[test]
fn own_credentials_are_taken_and_hidden_files_and_backups_are_not() {
    let s = site_to_site();
    let (_tmp, dir) = fresh(&s, &InitOptions::default());
    let a = dir.join("gateway-a");
    for (sub, file, text) in [("x509", "mine.pem", "CERT"), ("pkcs8", "mine.key", "KEY"), ("conf.d", "x.conf", "")] {
        fs::create_dir_all(a.join("swanctl").join(sub)).unwrap();
        fs::write(a.join("swanctl").join(sub).join(file), text).unwrap();
    }
    fs::create_dir_all(dir.join(".git/objects")).unwrap();
    fs::write(a.join(".swanctl.conf.swp"), b"\xff\xff").unwrap();
    fs::write(a.join("swanctl.conf~"), "old").unwrap();
    fs::write(dir.join("notes.md"), "top-level notes stay").unwrap();
    let lab = load(&dir, &s).unwrap();
    let g = lab.gateway("gateway-a").unwrap();
    let got: Vec<(&str, &str)> = g.files.iter().map(|f| (f.target.as_str(), f.text.as_str())).collect();
    let conf = read(&a.join(SWANCTL_CONF));
    let nft = read(&a.join(FIREWALL_NFT));
    assert_eq!(
        got,
        [
            (FIREWALL_TARGET, nft.as_str()),
            ("/etc/swanctl/conf.d/x.conf", ""),
            ("/etc/swanctl/pkcs8/mine.key", "KEY"),
            (SWANCTL_CONF_TARGET, conf.as_str()),
            ("/etc/swanctl/x509/mine.pem", "CERT"),
        ]
    );
    assert_eq!(lab.gateway("gateway-b").unwrap().files.len(), 2);
}
