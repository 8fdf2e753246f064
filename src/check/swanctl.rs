//! Reading `swanctl --list-sas --raw`: the IKE and child SAs a gateway has.
//! The raw format is VICI's text form: `key=value`, `key {…}`, `key=[a b]`.

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ChildSa {
    pub name: String,
    pub state: String,
    pub local_ts: Vec<String>,
    pub remote_ts: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct IkeSa {
    pub name: String,
    pub state: String,
    pub children: Vec<ChildSa>,
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

/// Parses every `list-sa event` in the output.
pub fn parse(text: &str) -> Vec<IkeSa> {
    let toks = tokens(text);
    let mut sas = Vec::new();
    // path of open section names; depth 1 = event, 2 = IKE SA, 3 = child-sas, 4 = child
    let mut path: Vec<String> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        match t.as_str() {
            "{" => {}
            "}" => {
                path.pop();
            }
            _ if toks.get(i + 1).is_some_and(|n| n == "{") => {
                path.push(t.clone());
                let depth = path.len();
                if depth == 2 && path[0] == "list-sa" {
                    sas.push(IkeSa { name: t.clone(), ..Default::default() });
                } else if depth == 4
                    && path[2] == "child-sas"
                    && let Some(sa) = sas.last_mut()
                {
                    sa.children.push(ChildSa::default());
                }
                i += 1;
            }
            _ => {
                // "list-sa" "event" pairs come as two words before "{".
                if let Some((key, value)) = t.split_once('=') {
                    let mut list = Vec::new();
                    if value.is_empty() && toks.get(i + 1).is_some_and(|n| n == "[") {
                        i += 2;
                        while i < toks.len() && toks[i] != "]" {
                            list.push(toks[i].clone());
                            i += 1;
                        }
                    }
                    set(&mut sas, path.len(), key, value, list);
                } else if toks.get(i + 1).is_some_and(|n| n == "event") && toks.get(i + 2).is_some_and(|n| n == "{") {
                    path.push(t.clone());
                    i += 2;
                }
            }
        }
        i += 1;
    }
    sas
}

fn set(sas: &mut [IkeSa], depth: usize, key: &str, value: &str, list: Vec<String>) {
    let Some(sa) = sas.last_mut() else { return };
    match depth {
        2 if key == "state" => sa.state = value.into(),
        4 => {
            if let Some(child) = sa.children.last_mut() {
                match key {
                    "name" => child.name = value.into(),
                    "state" => child.state = value.into(),
                    "local-ts" => child.local_ts = list,
                    "remote-ts" => child.remote_ts = list,
                    _ => {}
                }
            }
        }
        _ => {}
    }
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
    }
}
