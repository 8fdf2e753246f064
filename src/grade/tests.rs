//! Scoring by the scenario's weights, and each rendering read back: the
//! table exactly, JSON through serde_json, JUnit through an XML parser.

use std::collections::HashMap;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::*;

fn site_to_site() -> Scenario {
    Scenario::load("site-to-site").unwrap()
}

fn result(kind: CheckKind, name: &str, passed: bool, detail: &str) -> CheckResult {
    CheckResult::new(kind, name, passed, detail)
}

/// The built-in scenario's full set of checks, all passing.
fn all_pass() -> Vec<CheckResult> {
    let mut r = vec![result(CheckKind::Nodes, "nodes", true, "all 9 containers run")];
    for t in ["a-s", "b-s"] {
        r.push(result(CheckKind::Tunnel, &format!("tunnel {t}"), true, "IKE ESTABLISHED"));
    }
    for c in ["client-a1", "client-a2", "client-b1", "client-b2"] {
        r.push(result(CheckKind::Reach, &format!("reach {c}"), true, "answered"));
    }
    r.push(result(CheckKind::Capture, "router capture", true, "only IKE and ESP"));
    r.push(result(CheckKind::Secrecy, "payload secrecy", true, "never seen"));
    for g in ["gateway-a", "gateway-b", "gateway-s"] {
        r.push(result(CheckKind::Firewall, &format!("firewall {g}"), true, "blocked"));
    }
    r
}

fn failing(mut results: Vec<CheckResult>, name: &str, detail: &str) -> Vec<CheckResult> {
    let r = results.iter_mut().find(|r| r.name == name).expect("a check of that name");
    (r.passed, r.detail) = (false, detail.into());
    results
}

#[test]
fn all_passing_is_full_marks_at_the_built_in_weights() {
    let report = grade(&site_to_site(), &all_pass());
    assert_eq!((report.score, report.max, report.full_marks), (100, 100, true));
    assert_eq!(report.scenario, "site-to-site");
    let tunnel = &report.checks[1];
    assert_eq!((tunnel.kind, tunnel.points, tunnel.max), (CheckKind::Tunnel, 20, 20));
}

#[test]
fn a_failed_check_earns_nothing() {
    let results = failing(all_pass(), "router capture", "the router saw ICMP in the clear");
    let report = grade(&site_to_site(), &results);
    assert_eq!((report.score, report.max, report.full_marks), (85, 100, false));
    let capture = report.checks.iter().find(|c| c.kind == CheckKind::Capture).unwrap();
    assert_eq!((capture.passed, capture.points, capture.max), (false, 0, 15));
}

#[test]
fn a_failed_check_worth_nothing_still_denies_full_marks() {
    let report = grade(&site_to_site(), &failing(all_pass(), "nodes", "not running: router"));
    assert_eq!((report.score, report.max, report.full_marks), (100, 100, false));
    assert!(report.table().ends_with("\nscore: 100/100, but not full marks: nodes failed\n"), "{}", report.table());
    assert!(!grade(&site_to_site(), &[]).full_marks, "no check at all is no full marks");
}

#[test]
fn a_teachers_weights_are_used() {
    let text = Scenario::load_with_text("site-to-site").unwrap().1;
    let text = text.replace("tunnel = 20", "tunnel = 7").replace("nodes = 0", "nodes = 3");
    let s = Scenario::parse(&text, "mine.toml").unwrap();
    let report = grade(&s, &failing(all_pass(), "tunnel b-s", "no IKE SA at all"));
    // 3 + 2*7 + 4*5 + 15 + 10 + 3*5 = 77, less the failed tunnel's 7.
    assert_eq!((report.score, report.max), (70, 77));
}

#[test]
fn the_table_aligns_points_and_names_and_ends_with_the_score() {
    let results = [
        result(CheckKind::Nodes, "nodes", true, "all 9 containers run"),
        result(CheckKind::Tunnel, "tunnel a-s", false, "gateway-a: no IKE SA at all"),
        result(CheckKind::Reach, "reach client-a1", true, "answered"),
    ];
    let report = grade(&site_to_site(), &results);
    assert_eq!(
        report.table(),
        "PASS   0/0  nodes            all 9 containers run\n\
         FAIL  0/20  tunnel a-s       gateway-a: no IKE SA at all\n\
         PASS   5/5  reach client-a1  answered\n\
         \n\
         score: 5/25\n"
    );
    assert_eq!(report.render(Format::Table), report.table());
}

#[test]
fn json_parses_back_with_the_stable_field_names() {
    let results = failing(all_pass(), "tunnel a-s", "IKE SA gateway-a↔gateway-s ESTABLISHED but no \"CHILD_SA\"");
    let report = grade(&site_to_site(), &results);
    let v: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).expect("valid JSON");
    assert_eq!(v["scenario"], "site-to-site");
    assert_eq!((v["score"].as_u64(), v["max"].as_u64(), v["full_marks"].as_bool()), (Some(80), Some(100), Some(false)));
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 12);
    let mut keys: Vec<&str> = checks[1].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["detail", "kind", "max", "name", "passed", "points"]);
    assert_eq!(checks[1]["name"], "tunnel a-s");
    assert_eq!(checks[1]["kind"], "tunnel");
    assert_eq!((checks[1]["passed"].as_bool(), checks[1]["points"].as_u64()), (Some(false), Some(0)));
    assert_eq!(checks[1]["detail"], "IKE SA gateway-a↔gateway-s ESTABLISHED but no \"CHILD_SA\"");
    let kinds: Vec<&str> = checks.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"firewall") && kinds.contains(&"secrecy") && kinds.contains(&"nodes"), "{kinds:?}");
}

/// A JUnit document as an XML parser reads it.
#[derive(Debug, Default)]
struct Junit {
    /// Attributes of each `testsuites` and `testsuite` element.
    roots: Vec<HashMap<String, String>>,
    suites: Vec<HashMap<String, String>>,
    /// Each testcase's name and, if it failed, its failure's message and text.
    cases: Vec<(String, Option<(String, String)>)>,
}

fn attrs(e: &BytesStart) -> HashMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            let key = a.key.as_ref().to_string();
            (key, a.normalized_value(XmlVersion::Implicit1_0).expect("known entities only").into_owned())
        })
        .collect()
}

/// Parses `xml`, failing on anything not well-formed (unbalanced tags,
/// unknown entities, text outside the root).
fn read_junit(xml: &str) -> Junit {
    let mut reader = Reader::from_str(xml);
    let mut doc = Junit::default();
    let (mut depth, mut in_failure, mut text) = (0usize, false, String::new());
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}\n{xml}", reader.error_position()))
        {
            Event::Eof => break,
            Event::Start(e) => {
                depth += 1;
                match e.name().as_ref() {
                    "testsuites" => doc.roots.push(attrs(&e)),
                    "testsuite" => doc.suites.push(attrs(&e)),
                    "testcase" => doc.cases.push((attrs(&e)["name"].clone(), None)),
                    "failure" => {
                        let message = attrs(&e).get("message").cloned().expect("a failure message");
                        doc.cases.last_mut().expect("a failure inside a testcase").1 = Some((message, String::new()));
                        (in_failure, text) = (true, String::new());
                    }
                    _ => {}
                }
            }
            Event::Empty(_) => assert!(depth > 0, "an element outside the root"),
            Event::End(e) => {
                depth -= 1;
                if e.name().as_ref() == "failure" {
                    doc.cases.last_mut().unwrap().1.as_mut().unwrap().1 = std::mem::take(&mut text);
                    in_failure = false;
                }
            }
            Event::Text(t) => {
                let t = t.xml_content(XmlVersion::Implicit1_0);
                assert!(depth > 0 || t.trim().is_empty(), "text outside the root: {t:?}");
                if in_failure {
                    text += &t;
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().expect("a valid character reference") {
                    Some(c) => c.to_string(),
                    None => resolve_predefined_entity(&r).unwrap_or_else(|| panic!("unknown entity {r:?}")).to_string(),
                };
                if in_failure {
                    text += &resolved;
                }
            }
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    doc
}

#[test]
fn junit_is_one_suite_with_a_testcase_per_check_and_a_failure_per_failed_one() {
    let results = failing(all_pass(), "reach client-b2", "no ping reply from 10.3.0.10");
    let results = failing(results, "firewall gateway-a", "router reached gateway-a (172.26.26.10)");
    let report = grade(&site_to_site(), &results);
    let doc = read_junit(&report.render(Format::Junit));
    assert_eq!(doc.roots.len(), 1);
    assert_eq!((doc.roots[0]["tests"].as_str(), doc.roots[0]["failures"].as_str()), ("12", "2"));
    assert_eq!(doc.suites.len(), 1);
    let suite = &doc.suites[0];
    assert_eq!(suite["name"], "site-to-site");
    assert_eq!((suite["tests"].as_str(), suite["failures"].as_str(), suite["errors"].as_str()), ("12", "2", "0"));
    assert_eq!(doc.cases.len(), 12);
    let failed: Vec<(&str, &str)> =
        doc.cases.iter().filter_map(|(n, f)| f.as_ref().map(|(m, _)| (n.as_str(), m.as_str()))).collect();
    assert_eq!(
        failed,
        [
            ("reach client-b2", "no ping reply from 10.3.0.10"),
            ("firewall gateway-a", "router reached gateway-a (172.26.26.10)")
        ]
    );
}

#[test]
fn junit_escapes_what_xml_reserves() {
    let nasty = "saw <ICMP> & \"UDP\" 'in' the clear\tthen\nthis\u{1b}";
    let results = [result(CheckKind::Capture, "router <capture> & \"co\"", false, nasty)];
    let mut s = site_to_site();
    s.name = "lab <1> & \"2\"".into();
    let xml = grade(&s, &results).render(Format::Junit);
    let doc = read_junit(&xml);
    assert_eq!(doc.suites[0]["name"], "lab <1> & \"2\"");
    let (name, failure) = &doc.cases[0];
    assert_eq!(name, "router <capture> & \"co\"");
    let (message, text) = failure.as_ref().expect("a failure");
    let shown = "saw <ICMP> & \"UDP\" 'in' the clear\tthen\nthis\u{fffd}";
    assert_eq!((message.as_str(), text.as_str()), (shown, shown));
}

#[test]
fn xml_escape_replaces_each_special_character() {
    assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
    assert_eq!(xml_escape("x\ny\tz\r"), "x&#10;y&#9;z&#13;");
    assert_eq!(xml_escape("bell\u{7} nul\u{0} ok↔"), "bell\u{fffd} nul\u{fffd} ok↔");
    assert_eq!(xml_escape("plain"), "plain");
}
