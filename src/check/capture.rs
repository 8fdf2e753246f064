//! Judging the router's capture: only IKE and ESP on its links, and never
//! the clients' payload pattern. On failure the detail names what was seen
//! in the clear (protocol and address pair), so that a student knows which
//! traffic bypassed the tunnel without being told how to fix it.

use std::net::IpAddr;

use super::pcap::{self, Capture, Packet};
use super::{CheckKind, CheckResult};

/// How many flows a detail names before "and N more".
const SHOWN: usize = 3;

/// The router saw ESP and IKE, nothing in the clear, and never the pattern
/// (as bytes or as its hex text). Packets from or to `router_addrs` are the
/// router's own (the firewall probes, sent while the capture runs): they
/// are set aside from what crossed the router, but searched for the pattern.
pub fn judge_capture(pcap: &[u8], pattern: &[u8], pattern_text: &str, router_addrs: &[IpAddr]) -> Vec<CheckResult> {
    let cap = match pcap::parse(pcap) {
        Ok(c) => c,
        Err(e) => {
            let unreadable = format!("unreadable capture: {e}");
            return vec![
                CheckResult::new(CheckKind::Capture, "router capture", false, &unreadable),
                CheckResult::new(CheckKind::Secrecy, "payload secrecy", false, unreadable),
            ];
        }
    };
    vec![capture_result(&cap, router_addrs), secrecy_result(&cap, pattern, pattern_text)]
}

fn capture_result(cap: &Capture, router_addrs: &[IpAddr]) -> CheckResult {
    let crossed: Vec<&Packet> = cap.packets.iter().filter(|p| !p.involves(router_addrs)).collect();
    let count = |f: fn(&pcap::Class) -> bool| crossed.iter().filter(|p| f(&p.class)).count();
    let esp = count(|c| matches!(c, pcap::Class::Esp | pcap::Class::EspInUdp));
    let ike = count(|c| matches!(c, pcap::Class::Ike));
    let total = crossed.len();
    let own = match cap.packets.len() - total {
        0 => String::new(),
        n => format!("; {n} of the router's own set aside"),
    };
    let name = "router capture";
    let flows = flows(crossed.iter().copied().filter(|p| p.is_cleartext()));
    if flows.is_empty() && esp == 0 {
        let detail = format!(
            "the router saw no ESP and nothing in the clear ({total} packets, {ike} IKE{own}): the clients' traffic did not cross it"
        );
        return CheckResult::new(CheckKind::Capture, name, false, detail);
    }
    if flows.is_empty() {
        let detail = format!("{total} packets, only IKE ({ike}) and ESP ({esp}), none in the clear{own}");
        return CheckResult::new(CheckKind::Capture, name, true, detail);
    }
    let mut shown: Vec<String> = flows.iter().take(SHOWN).map(Flow::to_string).collect();
    if flows.len() > SHOWN {
        let more = flows.len() - SHOWN;
        shown.push(format!("{more} more flow{}", if more == 1 { "" } else { "s" }));
    }
    let mut detail = format!("the router saw {} in the clear", and_list(&shown));
    if flows.iter().any(|f| f.pair.is_some()) {
        detail += ": this traffic is not going through a tunnel";
    }
    if esp == 0 {
        detail += "; it saw no ESP at all";
    }
    CheckResult::new(CheckKind::Capture, name, false, detail)
}

fn secrecy_result(cap: &Capture, pattern: &[u8], pattern_text: &str) -> CheckResult {
    let name = "payload secrecy";
    // An empty pattern counts as found (`Capture::contains`): a broken
    // pattern fails the check instead of passing it.
    let leaked: Vec<&Packet> =
        cap.packets.iter().filter(|p| p.carries(pattern) || p.carries(pattern_text.as_bytes())).collect();
    if pattern.is_empty() || pattern_text.is_empty() {
        return CheckResult::new(CheckKind::Secrecy, name, false, "no payload pattern to look for");
    }
    match leaked.first() {
        None => CheckResult::new(
            CheckKind::Secrecy,
            name,
            true,
            "the clients' payload pattern never appears on the router's links",
        ),
        Some(first) => CheckResult::new(
            CheckKind::Secrecy,
            name,
            false,
            format!(
                "the clients' payload pattern appears in {} packet{} on the router's links, e.g. {first}",
                leaked.len(),
                if leaked.len() == 1 { "" } else { "s" }
            ),
        ),
    }
}

/// Cleartext packets of one kind between one pair of addresses (either way).
struct Flow {
    what: String,
    pair: Option<(IpAddr, IpAddr)>,
    packets: usize,
}

impl std::fmt::Display for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.packets;
        let unit = if self.pair.is_some() { "packet" } else { "frame" };
        let plural = if n == 1 { "" } else { "s" };
        match self.pair {
            Some((a, b)) => write!(f, "{} between {a} and {b} ({n} {unit}{plural})", self.what),
            None => write!(f, "{} ({n} {unit}{plural})", self.what),
        }
    }
}

/// Flows by packet count, most first; ties in the order first seen.
fn flows<'a>(packets: impl Iterator<Item = &'a Packet>) -> Vec<Flow> {
    let mut flows: Vec<Flow> = Vec::new();
    for p in packets {
        let pair = match (p.src, p.dst) {
            (Some(s), Some(d)) => Some(if s <= d { (s, d) } else { (d, s) }),
            _ => None,
        };
        let what = p.what();
        match flows.iter_mut().find(|f| f.what == what && f.pair == pair) {
            Some(f) => f.packets += 1,
            None => flows.push(Flow { what, pair, packets: 1 }),
        }
    }
    flows.sort_by_key(|f| std::cmp::Reverse(f.packets));
    flows
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (LINKTYPE_RAW, little-endian) of IP packets.
    fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 101, 0, 0, 0];
        for ip in packets {
            out.extend([0u8; 8]);
            out.extend((ip.len() as u32).to_le_bytes());
            out.extend((ip.len() as u32).to_le_bytes());
            out.extend(ip);
        }
        out
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0];
        p.extend(((20 + body.len()) as u16).to_be_bytes());
        p.extend([0, 0, 0, 0, 64, proto, 0, 0]);
        p.extend([&src[..], &dst, body].concat());
        p
    }

    const A1: [u8; 4] = [10, 1, 0, 10];
    const S1: [u8; 4] = [10, 3, 0, 10];
    const GA: [u8; 4] = [172, 26, 26, 10];
    const GS: [u8; 4] = [172, 28, 28, 10];

    fn esp(body: &[u8]) -> Vec<u8> {
        ipv4(50, GA, GS, &[[0xc0, 1, 2, 3, 0, 0, 0, 1].as_slice(), body].concat())
    }

    fn icmp(src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        ipv4(1, src, dst, &[[8, 0, 0, 0, 0, 0, 0, 0].as_slice(), payload].concat())
    }

    #[test]
    fn only_esp_passes_both() {
        let r = judge_capture(&pcap(&[esp(b"opaque.."), esp(b"opaque..")]), b"SECRET!!", "5345435245542121", &[]);
        assert!(r[0].passed && r[1].passed, "{r:?}");
        assert_eq!(r[0].detail, "2 packets, only IKE (0) and ESP (2), none in the clear");
        assert_eq!((r[0].kind, r[1].kind), (CheckKind::Capture, CheckKind::Secrecy));
    }

    #[test]
    fn cleartext_names_the_protocol_and_both_addresses() {
        // A route around the tunnel: the echo and its reply in the clear, beside ESP.
        let cap = pcap(&[esp(b"opaque.."), icmp(A1, S1, b"x"), icmp(S1, A1, b"x"), icmp(A1, S1, b"x")]);
        let r = judge_capture(&cap, b"SECRET!!", "5345435245542121", &[]);
        assert!(!r[0].passed && r[1].passed, "{r:?}");
        assert_eq!(
            r[0].detail,
            "the router saw ICMP between 10.1.0.10 and 10.3.0.10 (3 packets) in the clear: \
             this traffic is not going through a tunnel"
        );
    }

    #[test]
    fn the_routers_own_probes_are_set_aside_but_a_leak_beside_them_fails() {
        const ROUTER: [u8; 4] = [172, 26, 26, 1];
        let own = [IpAddr::from(ROUTER)];
        // The firewall probe to gateway-a and one to a host behind it, beside ESP.
        let probes = [esp(b"opaque.."), icmp(ROUTER, GA, b"x"), icmp(ROUTER, A1, b"x"), icmp(GA, ROUTER, b"x")];
        let r = judge_capture(&pcap(&probes), b"SECRET!!", "5345435245542121", &own);
        assert!(r[0].passed && r[1].passed, "{r:?}");
        assert_eq!(
            r[0].detail,
            "1 packets, only IKE (0) and ESP (1), none in the clear; 3 of the router's own set aside"
        );
        // Without the router's addresses, its probes count as cleartext.
        assert!(!judge_capture(&pcap(&probes), b"SECRET!!", "53", &[])[0].passed);
        let leak = [probes.as_slice(), &[icmp(A1, S1, b"x")]].concat();
        let r = judge_capture(&pcap(&leak), b"SECRET!!", "5345435245542121", &own);
        assert!(!r[0].passed && r[0].detail.contains("ICMP between 10.1.0.10 and 10.3.0.10 (1 packet)"), "{r:?}");
        // The pattern is searched for in the router's own packets too.
        let r = judge_capture(&pcap(&[esp(b"opaque.."), icmp(ROUTER, GA, b"SECRET!!")]), b"SECRET!!", "53", &own);
        assert!(r[0].passed && !r[1].passed, "{r:?}");
    }

    #[test]
    fn flows_are_named_most_first_and_the_rest_counted() {
        let tcp = |src, n: usize| (0..n).map(|_| ipv4(6, src, S1, &[0; 20])).collect::<Vec<_>>();
        let mut packets = vec![icmp(A1, S1, b"x")];
        packets.extend(tcp(GA, 2));
        packets.extend(tcp([10, 1, 0, 11], 3));
        packets.push(ipv4(99, A1, S1, b""));
        let r = judge_capture(&pcap(&packets), b"SECRET!!", "53", &[]);
        assert!(r[0].detail.contains("(1 packet) and 1 more flow in the clear"), "{r:?}");
        packets.push(ipv4(17, A1, S1, &[0, 53, 0, 53, 0, 8, 0, 0]));
        let r = judge_capture(&pcap(&packets), b"SECRET!!", "53", &[]);
        assert_eq!(
            r[0].detail,
            "the router saw TCP between 10.1.0.11 and 10.3.0.10 (3 packets), TCP between 10.3.0.10 and \
             172.26.26.10 (2 packets), ICMP between 10.1.0.10 and 10.3.0.10 (1 packet) and 2 more flows \
             in the clear: this traffic is not going through a tunnel; it saw no ESP at all"
        );
    }

    #[test]
    fn no_traffic_at_all_says_so() {
        let r = judge_capture(&pcap(&[]), b"SECRET!!", "5345435245542121", &[]);
        assert!(!r[0].passed && r[1].passed, "{r:?}");
        assert!(r[0].detail.starts_with("the router saw no ESP and nothing in the clear (0 packets, 0 IKE)"), "{r:?}");
    }

    #[test]
    fn a_leaked_pattern_names_the_packet_that_carried_it() {
        // ESP with null encryption: only ESP, so the capture passes, but the payload shows.
        let r = judge_capture(&pcap(&[esp(b"--SECRET!!--"), esp(b"xx")]), b"SECRET!!", "5345435245542121", &[]);
        assert!(r[0].passed && !r[1].passed, "{r:?}");
        assert_eq!(
            r[1].detail,
            "the clients' payload pattern appears in 1 packet on the router's links, e.g. ESP 172.26.26.10 -> 172.28.28.10"
        );
        // The hex text of the pattern (the HTTP request's id) counts too.
        let r = judge_capture(&pcap(&[icmp(A1, S1, b"id=5345435245542121")]), b"SECRET!!", "5345435245542121", &[]);
        assert!(r[1].detail.contains("1 packet on the router's links, e.g. 10.1.0.10 -> 10.3.0.10 ICMP"), "{r:?}");
    }

    #[test]
    fn an_empty_pattern_or_unreadable_capture_fails() {
        let r = judge_capture(&pcap(&[esp(b"opaque..")]), b"", "", &[]);
        assert!(r[0].passed && !r[1].passed, "{r:?}");
        let r = judge_capture(b"garbage", b"SECRET!!", "53", &[]);
        assert!(r.iter().all(|c| !c.passed && c.detail.starts_with("unreadable capture")), "{r:?}");
    }

    #[test]
    fn and_list_joins_like_prose() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(and_list(&s(&["a"])), "a");
        assert_eq!(and_list(&s(&["a", "b"])), "a and b");
        assert_eq!(and_list(&s(&["a", "b", "c"])), "a, b and c");
    }
}
