//! Reading `swanctl --list-sas --raw` (the IKE and child SAs a gateway has)
//! and `swanctl --list-conns --raw` (the connections loaded, with how each
//! authenticates). The raw format is VICI's text form: `key=value`,
//! `key {…}`, `key=[a b]`, one message per line such as `list-sa event {…}`.
//! Values are printed as they are, spaces included (`class=public key`).

/// A VICI section: its entries in order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Section {
    pub entries: Vec<(String, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    List(Vec<String>),
    Section(Section),
}

impl Section {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.entries.iter().find_map(|(k, v)| match v {
            Value::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        })
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        self.entries
            .iter()
            .find_map(|(k, v)| match v {
                Value::List(l) if k == key => Some(l.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The sub-sections, in order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.entries.iter().filter_map(|(k, v)| match v {
            Value::Section(s) => Some((k.as_str(), s)),
            _ => None,
        })
    }

    pub fn section(&self, key: &str) -> Option<&Section> {
        self.sections().find(|(k, _)| *k == key).map(|(_, s)| s)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ChildSa {
    pub name: String,
    pub state: String,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct IkeSa {
    /// The name of the connection that established it.
    pub name: String,
    pub uniqueid: String,
    pub state: String,
    pub local_host: String,
    pub remote_host: String,
    pub children: Vec<ChildSa>,
}

/// One authentication round of a connection (`local-1`, `remote-1`, …).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AuthRound {
    /// strongSwan's auth class: "public key", "pre-shared key", "EAP", "any"…
    pub class: String,
    pub id: String,
}

/// A loaded connection and how it authenticates, per round.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Conn {
    pub name: String,
    pub local: Vec<AuthRound>,
    pub remote: Vec<AuthRound>,
}

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        match ch {
            '{' | '}' | '[' | ']' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(ch.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_bracket(t: &str) -> bool {
    matches!(t, "{" | "}" | "[" | "]")
}

/// The entries of a section up to its closing brace (or the end).
fn body(toks: &[String], i: &mut usize) -> Section {
    let mut section = Section::default();
    while *i < toks.len() {
        let t = toks[*i].as_str();
        *i += 1;
        match t {
            "}" => break,
            "{" | "[" | "]" => {}
            _ if toks.get(*i).is_some_and(|n| n == "{") => {
                *i += 1;
                let sub = body(toks, i);
                section.entries.push((t.to_string(), Value::Section(sub)));
            }
            _ => {
                let Some((key, value)) = t.split_once('=') else {
                    continue; // a stray word: nothing to keep
                };
                if value.is_empty() && toks.get(*i).is_some_and(|n| n == "[") {
                    *i += 1;
                    let mut list = Vec::new();
                    while *i < toks.len() && toks[*i] != "]" {
                        list.push(toks[*i].clone());
                        *i += 1;
                    }
                    *i += 1;
                    section.entries.push((key.to_string(), Value::List(list)));
                    continue;
                }
                // The words of a value with spaces: up to the next key, section or brace.
                let mut value = value.to_string();
                while let Some(next) = toks.get(*i)
                    && !next.contains('=')
                    && !is_bracket(next)
                    && toks.get(*i + 1).is_none_or(|after| after != "{")
                {
                    value.push(' ');
                    value.push_str(next);
                    *i += 1;
                }
                section.entries.push((key.to_string(), Value::Str(value)));
            }
        }
    }
    section
}

/// Every message in the output: its label (`list-sa event`) and body.
pub fn messages(text: &str) -> Vec<(String, Section)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut label = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        i += 1;
        if t == "{" {
            out.push((label.join(" "), body(&toks, &mut i)));
            label.clear();
        } else if !is_bracket(t) {
            label.push(t.as_str());
        }
    }
    out
}

/// Parses every `list-sa event` in `swanctl --list-sas --raw` output.
pub fn parse(text: &str) -> Vec<IkeSa> {
    let mut sas = Vec::new();
    for (label, msg) in messages(text) {
        if label != "list-sa event" {
            continue;
        }
        for (name, sa) in msg.sections() {
            let children = sa.section("child-sas").map(|c| c.sections().map(|(_, c)| child(c)).collect());
            sas.push(IkeSa {
                name: name.to_string(),
                uniqueid: sa.str("uniqueid").unwrap_or_default().to_string(),
                state: sa.str("state").unwrap_or_default().to_string(),
                local_host: sa.str("local-host").unwrap_or_default().to_string(),
                remote_host: sa.str("remote-host").unwrap_or_default().to_string(),
                children: children.unwrap_or_default(),
            });
        }
    }
    sas
}

fn child(c: &Section) -> ChildSa {
    ChildSa {
        name: c.str("name").unwrap_or_default().to_string(),
        state: c.str("state").unwrap_or_default().to_string(),
        local_ts: c.list("local-ts"),
        remote_ts: c.list("remote-ts"),
    }
}

/// Parses every `list-conn event` in `swanctl --list-conns --raw` output.
pub fn parse_conns(text: &str) -> Vec<Conn> {
    let mut conns = Vec::new();
    for (label, msg) in messages(text) {
        if label != "list-conn event" {
            continue;
        }
        for (name, conn) in msg.sections() {
            let rounds = |side: &str| {
                let mut rounds: Vec<(u32, AuthRound)> = conn
                    .sections()
                    .filter_map(|(k, s)| {
                        let n = k.strip_prefix(side)?.strip_prefix('-')?.parse().ok()?;
                        let class = s.str("class").unwrap_or_default().to_string();
                        Some((n, AuthRound { class, id: s.str("id").unwrap_or_default().to_string() }))
                    })
                    .collect();
                rounds.sort_by_key(|(n, _)| *n);
                rounds.into_iter().map(|(_, r)| r).collect()
            };
            conns.push(Conn { name: name.to_string(), local: rounds("local"), remote: rounds("remote") });
        }
    }
    conns
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of strongSwan 5.9's raw output, trimmed.
    const SAMPLE: &str = "list-sa event {a-s {uniqueid=1 version=2 state=ESTABLISHED local-host=172.26.26.10 local-port=4500 \
        local-id=gateway-a remote-host=172.28.28.10 encr-alg=AES_GCM_16 encr-keysize=256 dh-group=CURVE_25519 \
        child-sas {a-s-1 {name=a-s uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP encap=yes \
        local-ts=[10.1.0.0/16] remote-ts=[10.3.0.0/16]}}}}\n\
        list-sa event {b-s {uniqueid=2 version=2 state=CONNECTING child-sas {}}}\n\
        list-sas reply {}\n";

    #[test]
    fn parses_ike_and_child_sas() {
        let sas = parse(SAMPLE);
        assert_eq!(sas.len(), 2);
        assert_eq!(sas[0].name, "a-s");
        assert_eq!(sas[0].state, "ESTABLISHED");
        assert_eq!((sas[0].uniqueid.as_str(), sas[0].remote_host.as_str()), ("1", "172.28.28.10"));
        assert_eq!(
            sas[0].children,
            [ChildSa {
                name: "a-s".into(),
                state: "INSTALLED".into(),
                local_ts: vec!["10.1.0.0/16".into()],
                remote_ts: vec!["10.3.0.0/16".into()]
            }]
        );
        assert_eq!(sas[1].state, "CONNECTING");
        assert!(sas[1].children.is_empty());
    }

    #[test]
    fn empty_output_has_no_sas() {
        assert!(parse("list-sas reply {}\n").is_empty());
        assert!(parse("").is_empty());
        assert!(parse_conns("list-conns reply {}\n").is_empty());
    }

    #[test]
    fn values_keep_their_spaces_and_rounds_their_order() {
        // strongSwan 5.9.8, trimmed: a second round listed before the first.
        let text = "list-conn event {x {version=IKEv2 remote-2 {class=EAP groups=[]} local-1 {id=gw class=pre-shared key \
            groups=[] certs=[]} remote-1 {id=CN=peer class=public key certs=[]} children {x {mode=TUNNEL}}}}\n\
            list-conns reply {}\n";
        let conns = parse_conns(text);
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].name, "x");
        assert_eq!(conns[0].local, [AuthRound { class: "pre-shared key".into(), id: "gw".into() }]);
        let remote: Vec<&str> = conns[0].remote.iter().map(|r| r.class.as_str()).collect();
        assert_eq!(remote, ["public key", "EAP"]);
        assert_eq!(conns[0].remote[0].id, "CN=peer");
    }

    #[test]
    fn a_value_with_spaces_stops_before_a_section() {
        let msgs = messages("m event {a=one two sub {b=c} d=[e f]}");
        let (label, s) = &msgs[0];
        assert_eq!(label, "m event");
        assert_eq!(s.str("a"), Some("one two"));
        assert_eq!(s.section("sub").and_then(|x| x.str("b")), Some("c"));
        assert_eq!(s.list("d"), ["e", "f"]);
    }
}
