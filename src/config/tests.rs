use super::*;

#[test]
fn builtin_config_declares_the_image_set_in_build_order() {
    let c = Config::parse(BUILTIN, "imgtool.toml").unwrap();
    let names: Vec<_> = c.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["base", "router", "client", "strongswan", "gateway", "imgtool"]);
    assert_eq!(c.image("gateway").unwrap().from.as_deref(), Some("strongswan"));
    let with_binaries: Vec<_> = c.images.iter().filter(|i| i.binaries.is_some()).map(|i| &i.name).collect();
    assert_eq!(with_binaries, ["imgtool"]);
    assert_eq!(c.with_bases(&["gateway"]), ["base", "strongswan", "gateway"]);
    assert_eq!(c.with_bases(&["client", "router"]), ["base", "router", "client"]);
    assert_eq!(c.reference("router"), "docker.io/vpnlab/router:latest");
}

#[test]
fn image_built_from_a_later_image_is_rejected_with_its_line() {
    let text = BUILTIN.replace("from = \"strongswan\"", "from = \"gatewayx\"");
    let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
    let line = text.lines().position(|l| l.contains("gatewayx")).unwrap() + 1;
    assert!(e.starts_with(&format!("imgtool.toml:{line}: image gateway")), "{e}");
}

#[test]
fn unknown_platform_is_rejected() {
    let text = BUILTIN.replace("linux/arm64", "linux/s390x");
    let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
    assert!(e.contains("platform 'linux/s390x'"), "{e}");
}

#[test]
fn a_bad_registry_in_imgtool_toml_names_its_line() {
    for (from, to, what) in [
        ("namespace = \"vpnlab\"", "namespace = \"VPNlab\"", "namespace 'VPNlab' is not valid"),
        ("host = \"docker.io\"", "host = \"dockerio\"", "'dockerio' is not a registry host"),
        ("tag = \"latest\"", "tag = \"-latest\"", "tag '-latest' is not valid"),
        ("name = \"router\"", "name = \"Router\"", "image name 'Router' is not valid"),
    ] {
        let text = BUILTIN.replace(from, to);
        let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
        let line = text.lines().position(|l| l == to).unwrap() + 1;
        assert!(e.starts_with(&format!("imgtool.toml:{line}: ")) && e.contains(what), "{e}");
    }
}

#[test]
fn the_line_is_the_value_at_fault_not_the_first_text_like_it() {
    // A text search would land on the comment, or on the description
    // that holds the same text as the bad `from`.
    let text = BUILTIN
        .replace("[registry]\n", "# tag = \"-old\" was the tag once\n[registry]\n")
        .replace("tag = \"latest\"", "tag = \"-old\"")
        .replace(
            "description = \"VPN testbed router: forwards between the ISP links\"",
            "description = 'not from = \"gatewayx\" but from scratch'",
        );
    let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
    let line = text.lines().position(|l| l == "tag = \"-old\"").unwrap() + 1;
    assert!(e.starts_with(&format!("imgtool.toml:{line}: tag '-old'")), "{e}");
    let text =
        text.replace("tag = \"-old\"", "tag = \"latest\"").replace("from = \"strongswan\"", "from = \"gatewayx\"");
    let e = Config::parse(&text, "imgtool.toml").unwrap_err().to_string();
    let line = text.lines().position(|l| l == "from = \"gatewayx\"").unwrap() + 1;
    assert!(e.starts_with(&format!("imgtool.toml:{line}: image gateway")), "{e}");
}

#[test]
fn registry_and_tag_from_the_command_line_are_checked() {
    let c = || Config::parse(BUILTIN, "imgtool.toml").unwrap();
    let ok = c().with_registry(Some("127.0.0.1:5000/vpnlab"), Some("1.2.0")).unwrap();
    assert_eq!(ok.reference("gateway"), "127.0.0.1:5000/vpnlab/gateway:1.2.0");
    for (registry, tag, want) in [
        (Some("UPPER/Case:bad"), None, "'UPPER' is not a registry host"),
        (Some("justahost"), None, "is not HOST[:PORT]/NAMESPACE"),
        (Some("docker.io/vpnlab/"), None, "namespace 'vpnlab/' is not valid"),
        (None, Some("no spaces"), "tag 'no spaces' is not valid"),
    ] {
        let e = c().with_registry(registry, tag).unwrap_err().to_string();
        assert!(e.contains(want) && !e.contains('\n'), "{e}");
    }
}

#[test]
fn platforms_are_checked_against_imgtool_toml() {
    let c = Config::parse(BUILTIN, "imgtool.toml").unwrap();
    assert!(c.check_platform("linux/amd64").is_ok() && c.check_platform("linux/arm64").is_ok());
    assert_eq!(
        c.check_platform("linux/sparc").unwrap_err().to_string(),
        "unknown platform linux/sparc: imgtool.toml builds linux/amd64, linux/arm64; pick one of them"
    );
    for bad in ["amd64", "linux/", "linux/arm64/v8/x", "Linux/AMD64", "linux amd64"] {
        let e = c.check_platform(bad).unwrap_err().to_string();
        assert!(e.contains("is not OS/ARCH[/VARIANT]") && e.contains("linux/amd64, linux/arm64"), "{e}");
    }
    // Exact: a variant imgtool.toml does not name is not built.
    assert!(c.check_platform("linux/arm64/v8").unwrap_err().to_string().starts_with("unknown platform"));
}

#[test]
fn wrong_type_names_the_line() {
    let text = BUILTIN.replace("tag = \"latest\"", "tag = 3");
    let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
    let line = text.lines().position(|l| l == "tag = 3").unwrap() + 1;
    assert!(e.starts_with(&format!("x.toml:{line}:")), "{e}");
}
