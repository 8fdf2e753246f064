//! `[registry] list`: several registries in order, and a bad entry named by its line.

use super::*;

#[test]
fn a_registry_list_is_read_in_order_and_a_bad_entry_names_its_line() {
    let one = "host = \"docker.io\"\nnamespace = \"vpnlab\"\n";
    let list = |entries: &str| BUILTIN.replace(one, &format!("list = [\n  {entries}\n]\n"));
    let c = Config::parse(&list("\"docker.io/vpnlab\",\n  \"ghcr.io/vpnlab\","), "x.toml").unwrap();
    let all: Vec<String> = c.registries.iter().map(|r| r.to_string()).collect();
    assert_eq!(all, ["docker.io/vpnlab", "ghcr.io/vpnlab"]);
    assert_eq!(c.reference("router"), "docker.io/vpnlab/router:latest");
    assert_eq!(c.using(&c.registries[1]).reference("router"), "ghcr.io/vpnlab/router:latest");
    assert_eq!(c.clone().with_registry(Some("127.0.0.1:5000/x"), None).unwrap().registries.len(), 1);
    for (entries, bad, want) in [
        (
            "\"docker.io/vpnlab\",\n  \"ghcr.io\",",
            "\"ghcr.io\",",
            "registry list entry: registry 'ghcr.io' is not HOST",
        ),
        ("\"docker.io/vpnlab\",\n  \"Ghcr/x\",", "\"Ghcr/x\",", "'Ghcr' is not a registry host"),
        ("\"docker.io/vpnlab\",\n  \"docker.io/vpnlab\",", "\"docker.io/vpnlab\",", "listed twice"),
        ("3,", "3,", "invalid type"),
    ] {
        let text = list(entries);
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        let line = text.lines().collect::<Vec<_>>().iter().rposition(|l| l.trim() == bad).unwrap() + 1;
        assert!(e.starts_with(&format!("x.toml:{line}: ")) && e.contains(want) && !e.contains('\n'), "{e}");
    }
    let both = BUILTIN.replace(one, &format!("{one}list = [\"ghcr.io/vpnlab\"]\n"));
    for text in [both, list("")] {
        let e = Config::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(e.contains("needs host and namespace, or a non-empty list"), "{e}");
    }
}
