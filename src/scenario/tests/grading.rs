//! `[grading]`: the built-in weights, defaults for what is not written, and
//! each bad weight or requirement refused at its own line.

use super::*;

/// The site-to-site text without its `[grading]` tables.
fn ungraded() -> &'static str {
    let text = BUILTIN[0].1;
    let at = text.find("\n# Grading").expect("site-to-site has a grading comment");
    &text[..at]
}

fn graded(table: &str) -> String {
    format!("{}\n{table}", ungraded())
}

/// The line of `table`'s line that contains `needle`, in [`graded`]'s text.
fn line_of(table: &str, needle: &str) -> usize {
    let text = graded(table);
    let at = text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in the text"));
    text[..at].matches('\n').count() + 1
}

#[test]
fn builtins_write_out_the_default_weights() {
    // A scenario file without [grading] grades exactly like the built-ins.
    for (name, text) in BUILTIN {
        assert!(text.contains("[grading.points]"), "{name} writes no weights");
        assert_eq!(builtin(name).grading, Grading::default(), "{name}");
    }
    let g = Grading::default();
    assert_eq!(g.auth, AuthRequirement::Certificates);
    let points: Vec<u32> = CheckKind::ALL.iter().map(|&k| g.points(k)).collect();
    assert_eq!(points, [0, 20, 5, 15, 10, 5, 10]);
}

#[test]
fn a_scenario_without_grading_gets_the_defaults() {
    let s = Scenario::parse(ungraded(), "t.toml").unwrap();
    assert_eq!(s.grading, Grading::default());
}

#[test]
fn weights_not_given_keep_their_default() {
    let s = Scenario::parse(
        &graded("[grading]\nauth = \"certificates\"\n\n[grading.points]\ntunnel = 3\nnodes = 1\n"),
        "t",
    )
    .unwrap();
    assert_eq!(s.grading.auth, AuthRequirement::Certificates);
    assert_eq!(s.grading.points(CheckKind::Tunnel), 3);
    assert_eq!(s.grading.points(CheckKind::Nodes), 1);
    assert_eq!(s.grading.points(CheckKind::Reach), Grading::default().points(CheckKind::Reach));
    let psk = Scenario::parse(&graded("[grading]\nauth = \"psk\"\n"), "t").unwrap();
    assert_eq!(psk.grading.auth, AuthRequirement::Psk);
    assert_eq!(psk.grading.points(CheckKind::Auth), 10);
}

#[test]
fn zero_and_the_maximum_are_allowed() {
    let s = Scenario::parse(&graded(&format!("[grading.points]\nreach = 0\ncapture = {MAX_POINTS}\n")), "t").unwrap();
    assert_eq!((s.grading.points(CheckKind::Reach), s.grading.points(CheckKind::Capture)), (0, MAX_POINTS));
}

#[test]
fn an_unknown_kind_is_refused_at_its_line() {
    let table = "[grading.points]\ntunnel = 5\ntunel = 5\n";
    assert_error_at(&graded(table), line_of(table, "tunel ="), "unknown check kind \"tunel\" in [grading.points]");
    assert!(error_of(&graded(table)).contains("nodes, tunnel, reach, capture, secrecy, firewall, auth"));
}

#[test]
fn negative_fractional_text_and_huge_points_are_refused_at_their_line() {
    for (value, shown) in
        [("-5", "not -5"), ("2.5", "not 2.5"), ("\"ten\"", "not \"ten\""), ("1001", "not 1001"), ("true", "not true")]
    {
        let table = format!("[grading.points]\nnodes = 0\nfirewall = {value}\n");
        let line = line_of(&table, "firewall =");
        assert_error_at(
            &graded(&table),
            line,
            &format!("points for firewall must be a whole number from 0 to 1000, {shown}"),
        );
    }
}

#[test]
fn an_unknown_auth_requirement_is_refused_at_its_line() {
    let table = "[grading]\nauth = \"certs\"\n";
    assert_error_at(
        &graded(table),
        line_of(table, "auth ="),
        "[grading] auth = \"certs\" is not one of \"certificates\", \"psk\", \"any\"",
    );
}

#[test]
fn an_unknown_key_in_grading_is_refused_at_its_line() {
    let table = "[grading]\nauth = \"any\"\nweights = 3\n";
    assert_error_at(&graded(table), line_of(table, "weights ="), "unknown field `weights`");
}
