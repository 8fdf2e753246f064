//! Reads the classic pcap that `tcpdump -i any -w` writes on the testbed
//! router, so a check can prove the router forwarded only IKE and ESP
//! between the gateways: any other IP packet is cleartext, and the secret
//! payload must never appear in a captured byte.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// Every record of a capture, in file order.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    pub packets: Vec<Packet>,
}

/// One captured frame and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub class: Class,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// The whole captured frame, link-layer header included.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// UDP port 500, or UDP 4500 after the zero non-ESP marker, or a NAT keepalive.
    Ike,
    /// UDP 4500 whose payload starts with a non-zero SPI (RFC 3948).
    EspInUdp,
    /// IP protocol 50.
    Esp,
    Arp,
    /// ICMPv6 router/neighbour discovery and MLD: link housekeeping, not traffic.
    NeighborDiscovery,
    /// Any other IP packet; 255 marks an IP header too short to read.
    Other {
        protocol: u8,
    },
    /// Neither IP nor ARP; 0 when the link-layer header itself is truncated.
    NonIp {
        ethertype: u16,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    #[error("pcapng captures are not supported: use classic pcap as written by tcpdump -w")]
    Pcapng,
    #[error("not a pcap file (magic {0:#010x})")]
    BadMagic(u32),
    #[error("pcap file header truncated: {0} of 24 bytes")]
    TruncatedHeader(usize),
    #[error("pcap record {index} truncated at byte {offset}")]
    TruncatedRecord { index: usize, offset: usize },
    #[error("unsupported pcap link type {0}")]
    LinkType(u32),
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_ARP: u16 = 0x0806;

#[derive(Clone, Copy)]
enum Link {
    Ethernet,
    Raw,
    Sll,
    Sll2,
}

/// Parses a classic pcap file (either byte order, micro- or nanosecond).
pub fn parse(bytes: &[u8]) -> Result<Capture, PcapError> {
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        return Err(PcapError::Pcapng);
    }
    let (header, mut rest) = bytes.split_first_chunk::<24>().ok_or(PcapError::TruncatedHeader(bytes.len()))?;
    let magic = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let big = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        other => return Err(PcapError::BadMagic(other)),
    };
    // Fields are in the writer's byte order: read big-endian, swap if little.
    let word = |b: &[u8], at| be32(b, at).map(|w| if big { w } else { w.swap_bytes() });
    // The upper bits of the link type field may carry FCS information.
    let link = match word(header, 20).unwrap_or_default() & 0xffff {
        1 => Link::Ethernet,
        12 | 14 | 101 => Link::Raw,
        113 => Link::Sll,
        276 => Link::Sll2,
        other => return Err(PcapError::LinkType(other)),
    };
    let mut packets = Vec::new();
    let mut fragments = HashMap::new();
    while !rest.is_empty() {
        let truncated = PcapError::TruncatedRecord { index: packets.len(), offset: bytes.len() - rest.len() };
        let Some((record, after)) = rest.split_first_chunk::<16>() else {
            return Err(truncated);
        };
        let split = word(record, 8).and_then(|n| usize::try_from(n).ok()).and_then(|n| after.split_at_checked(n));
        let Some((frame, after)) = split else {
            return Err(truncated);
        };
        rest = after;
        packets.push(decode(link, frame, &mut fragments));
    }
    Ok(Capture { packets })
}

impl Capture {
    /// Packets that are neither IKE, ESP, ESP-in-UDP, ARP nor neighbour discovery.
    pub fn cleartext(&self) -> impl Iterator<Item = &Packet> {
        self.packets.iter().filter(|p| matches!(p.class, Class::Other { .. } | Class::NonIp { .. }))
    }

    /// Whether any packet's bytes contain `pattern`. An empty pattern is
    /// always found, so a misconfigured secret fails a check instead of passing.
    pub fn contains(&self, pattern: &[u8]) -> bool {
        pattern.is_empty() || self.packets.iter().any(|p| p.data.windows(pattern.len()).any(|w| w == pattern))
    }
}

impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.class {
            Class::Ike => "IKE",
            Class::EspInUdp => "ESP-in-UDP",
            Class::Esp => "ESP",
            Class::Arp => "ARP",
            Class::NeighborDiscovery => "ICMPv6-ND",
            Class::NonIp { ethertype } => return write!(f, "non-IP ethertype {ethertype:#06x}"),
            Class::Other { protocol } => {
                let (Some(src), Some(dst)) = (self.src, self.dst) else {
                    return f.write_str("malformed IP packet");
                };
                return match protocol_name(protocol) {
                    Some(name) => write!(f, "{src} -> {dst} {name}"),
                    None => write!(f, "{src} -> {dst} protocol {protocol}"),
                };
            }
        };
        match (self.src, self.dst) {
            (Some(src), Some(dst)) => write!(f, "{label} {src} -> {dst}"),
            _ => f.write_str(label),
        }
    }
}

fn protocol_name(protocol: u8) -> Option<&'static str> {
    Some(match protocol {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        58 => "ICMPv6",
        _ => return None,
    })
}

/// First-fragment classes by (src, dst, fragment id): later fragments carry no ports.
type Fragments = HashMap<(IpAddr, IpAddr, u32), Class>;

fn decode(link: Link, frame: &[u8], fragments: &mut Fragments) -> Packet {
    let (class, src, dst) = match network(link, frame) {
        None => (Class::NonIp { ethertype: 0 }, None, None),
        Some((ETH_ARP, _)) => (Class::Arp, None, None),
        Some((ETH_IPV4 | ETH_IPV6, payload)) => match ip(payload) {
            None => (Class::Other { protocol: 255 }, None, None),
            Some(ip) => {
                let class = match ip.fragment {
                    Fragment::Whole => transport(ip.proto, ip.payload),
                    Fragment::First(id) => {
                        let class = transport(ip.proto, ip.payload);
                        fragments.insert((ip.src, ip.dst, id), class);
                        class
                    }
                    Fragment::Later(id) => {
                        fragments.get(&(ip.src, ip.dst, id)).copied().unwrap_or_else(|| transport(ip.proto, &[]))
                    }
                };
                (class, Some(ip.src), Some(ip.dst))
            }
        },
        Some((ethertype, _)) => (Class::NonIp { ethertype }, None, None),
    };
    Packet { class, src, dst, data: frame.to_vec() }
}

/// The ethertype and network-layer bytes of a frame; None if the link header is cut.
fn network(link: Link, frame: &[u8]) -> Option<(u16, &[u8])> {
    let (ethertype_at, header_len) = match link {
        Link::Raw => {
            let ethertype = match frame.first()? >> 4 {
                4 => ETH_IPV4,
                6 => ETH_IPV6,
                _ => 0,
            };
            return Some((ethertype, frame));
        }
        Link::Ethernet => (12, 14),
        Link::Sll => (14, 16),
        Link::Sll2 => (0, 20),
    };
    Some((be16(frame, ethertype_at)?, frame.get(header_len..)?))
}

#[derive(Clone, Copy)]
enum Fragment {
    Whole,
    First(u32),
    Later(u32),
}

struct Ip<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload: &'a [u8],
    fragment: Fragment,
}

fn ip(p: &[u8]) -> Option<Ip<'_>> {
    match p.first()? >> 4 {
        4 => ipv4(p),
        6 => ipv6(p),
        _ => None,
    }
}

fn ipv4(p: &[u8]) -> Option<Ip<'_>> {
    let header_len = usize::from(p.first()? & 0x0f) * 4;
    if header_len < 20 || p.len() < header_len {
        return None;
    }
    // Honour the total length: Ethernet pads a 1-byte NAT keepalive to 46 bytes.
    let end = usize::from(be16(p, 2)?).clamp(header_len, p.len());
    let id = u32::from(be16(p, 4)?);
    let flags = be16(p, 6)?;
    let fragment = match (flags & 0x1fff, flags & 0x2000) {
        (0, 0) => Fragment::Whole,
        (0, _) => Fragment::First(id),
        _ => Fragment::Later(id),
    };
    let (src, dst) = (addr::<4>(p, 12)?, addr::<4>(p, 16)?);
    Some(Ip { src, dst, proto: p[9], payload: &p[header_len..end], fragment })
}

fn ipv6(p: &[u8]) -> Option<Ip<'_>> {
    let (src, dst) = (addr::<16>(p, 8)?, addr::<16>(p, 24)?);
    // Honour the payload length to drop link padding (no jumbograms here).
    let end = (40 + usize::from(be16(p, 4)?)).min(p.len());
    let mut ip = Ip { src, dst, proto: p[6], payload: &p[40..end], fragment: Fragment::Whole };
    // A truncated extension header ends the walk with its own number as the
    // protocol, which then counts as cleartext.
    while matches!(ip.proto, 0 | 43 | 44 | 60) {
        let (Some(&next), Some(&len)) = (ip.payload.first(), ip.payload.get(1)) else {
            break;
        };
        let skip = if ip.proto == 44 { 8 } else { (usize::from(len) + 1) * 8 };
        let Some(after) = ip.payload.get(skip..) else {
            break;
        };
        let fragment = match ip.proto {
            44 => Some((be16(ip.payload, 2)?, be32(ip.payload, 4)?)),
            _ => None,
        };
        (ip.proto, ip.payload) = (next, after);
        if let Some((offset, id)) = fragment {
            if offset & 0xfff8 != 0 {
                ip.fragment = Fragment::Later(id);
                break; // only the first fragment carries further headers
            }
            if offset & 1 != 0 {
                ip.fragment = Fragment::First(id);
            }
        }
    }
    Some(ip)
}

fn transport(proto: u8, payload: &[u8]) -> Class {
    match proto {
        50 => Class::Esp,
        17 => udp(payload).unwrap_or(Class::Other { protocol: 17 }),
        58 if matches!(payload.first(), Some(130..=137 | 143)) => Class::NeighborDiscovery,
        protocol => Class::Other { protocol },
    }
}

/// IKE or ESP-in-UDP by port and payload; None for any other UDP.
fn udp(p: &[u8]) -> Option<Class> {
    let ports = [be16(p, 0)?, be16(p, 2)?];
    let len = usize::from(be16(p, 4)?);
    let body = p.get(8..)?;
    let body = &body[..len.saturating_sub(8).min(body.len())];
    if ports.contains(&500) {
        return Some(Class::Ike);
    }
    if !ports.contains(&4500) {
        return None;
    }
    match body {
        [0xff] => Some(Class::Ike),           // NAT keepalive
        [0, 0, 0, 0, ..] => Some(Class::Ike), // non-ESP marker
        [_, _, _, _, ..] => Some(Class::EspInUdp),
        _ => None,
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(*b.get(at..)?.first_chunk()?))
}

fn addr<const N: usize>(b: &[u8], at: usize) -> Option<IpAddr>
where
    IpAddr: From<[u8; N]>,
{
    Some(IpAddr::from(*b.get(at..)?.first_chunk::<N>()?))
}

#[cfg(test)]
mod tests {
    use super::Class::*;
    use super::*;

    const CLIENT: [u8; 4] = [10, 1, 0, 10];
    const SERVER: [u8; 4] = [10, 3, 0, 10];
    const SPI: [u8; 8] = [0xc0, 1, 2, 3, 0, 0, 0, 1];

    fn pcap(linktype: u32, be: bool, frames: &[Vec<u8>]) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let version = if be { 0x0002_0004 } else { 0x0004_0002 };
        let header = [0xa1b2_c3d4, version, 0, 0, 262_144, linktype];
        let mut out: Vec<u8> = header.into_iter().flat_map(w).collect();
        for f in frames {
            let n = f.len() as u32;
            out.extend([1, 0, n, n].into_iter().flat_map(w));
            out.extend(f);
        }
        out
    }

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], opts: &[u8], body: &[u8]) -> Vec<u8> {
        let hl = 20 + opts.len();
        let mut p = vec![0x40 | (hl / 4) as u8, 0];
        p.extend(((hl + body.len()) as u16).to_be_bytes());
        p.extend([0, 0, 0, 0, 64, proto, 0, 0]);
        p.extend([&src[..], &dst, opts, body].concat());
        p
    }

    /// Between the gateways, 172.26.26.10 -> 172.28.28.10.
    fn gw(proto: u8, body: &[u8]) -> Vec<u8> {
        ipv4(proto, [172, 26, 26, 10], [172, 28, 28, 10], &[], body)
    }

    fn ipv6(next: u8, src: &str, dst: &str, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend((body.len() as u16).to_be_bytes());
        p.extend([next, 64]);
        for a in [src, dst] {
            p.extend(a.parse::<std::net::Ipv6Addr>().unwrap().octets());
        }
        p.extend(body);
        p
    }

    fn udp(sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
        let header = [sport, dport, 8 + body.len() as u16, 0];
        [&header.map(u16::to_be_bytes).concat()[..], body].concat()
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        [&[0; 12][..], &ethertype.to_be_bytes(), payload].concat()
    }

    fn sll(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        [&[0; 14][..], &ethertype.to_be_bytes(), payload].concat()
    }

    fn sll2(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        [&ethertype.to_be_bytes()[..], &[0; 18], payload].concat()
    }

    fn capture(linktype: u32, frames: &[Vec<u8>]) -> Capture {
        parse(&pcap(linktype, false, frames)).unwrap()
    }

    fn classes(linktype: u32, frames: &[Vec<u8>]) -> Vec<Class> {
        let packets = capture(linktype, frames).packets;
        packets.iter().map(|p| p.class).collect()
    }

    const ICMP: Class = Other { protocol: 1 };
    const TCP: Class = Other { protocol: 6 };
    const UDP: Class = Other { protocol: 17 };

    fn class_of(raw_ip: Vec<u8>) -> Class {
        capture(101, &[raw_ip]).packets[0].class
    }

    #[test]
    fn classifies_ip_packets() {
        let ike = udp(500, 500, &[0xaa; 28]);
        assert_eq!(class_of(gw(17, &ike)), Ike);
        assert_eq!(class_of(ipv4(17, CLIENT, SERVER, &[1; 4], &ike)), Ike); // IPv4 options
        assert_eq!(class_of(gw(17, &udp(4500, 4500, &[0, 0, 0, 0, 9]))), Ike); // non-ESP marker
        assert_eq!(class_of(gw(17, &udp(4500, 4500, &[0xff]))), Ike); // NAT keepalive
        assert_eq!(class_of(gw(17, &udp(4500, 4500, &SPI))), EspInUdp);
        assert_eq!(class_of(gw(50, &SPI)), Esp);
        assert_eq!(class_of(gw(1, &[8, 0, 0, 0])), ICMP);
        assert_eq!(class_of(gw(17, &udp(53, 53, &SPI))), UDP);
        let (a, b) = ("fd00:1::10", "fd00:3::10");
        let ext = [60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, dest opts
        assert_eq!(class_of(ipv6(0, a, b, &[&ext[..], &[0; 20]].concat())), TCP);
        assert_eq!(class_of(ipv6(58, a, b, &[128, 0, 0, 0])), Other { protocol: 58 });
        let ns = ipv6(58, "fe80::1", "ff02::1:ff00:2", &[135, 0, 0, 0]);
        let mld = ipv6(0, "fe80::1", "ff02::16", &[58, 0, 5, 2, 0, 0, 1, 0, 143]);
        assert_eq!([class_of(ns), class_of(mld)], [NeighborDiscovery; 2]);
    }

    #[test]
    fn nat_keepalive_padded_by_ethernet_is_ike() {
        let mut frame = eth(ETH_IPV4, &gw(17, &udp(4500, 4500, &[0xff])));
        frame.resize(60, 0);
        assert_eq!(classes(1, &[frame]), [Ike]);
    }

    #[test]
    fn cleartext_is_everything_but_ike_esp_arp_and_nd() {
        let frames = [
            eth(ETH_IPV4, &gw(17, &udp(500, 500, &[0; 28]))),
            eth(ETH_IPV4, &gw(50, &SPI)),
            eth(ETH_ARP, &[0; 28]),
            eth(ETH_IPV6, &ipv6(58, "fe80::1", "ff02::2", &[133, 0, 0, 0])),
            eth(ETH_IPV4, &ipv4(1, CLIENT, SERVER, &[], &[8, 0, 0, 0])),
            eth(ETH_IPV6, &ipv6(6, "fd00:1::10", "fd00:3::10", &[0; 20])),
            eth(0x88cc, &[0; 20]),
        ];
        let cap = capture(1, &frames);
        let leaks: Vec<_> = cap.cleartext().map(Packet::to_string).collect();
        let expected = ["10.1.0.10 -> 10.3.0.10 ICMP", "fd00:1::10 -> fd00:3::10 TCP"];
        assert_eq!(leaks, [&expected[..], &["non-IP ethertype 0x88cc"]].concat());
        assert_eq!(cap.packets[1].to_string(), "ESP 172.26.26.10 -> 172.28.28.10");
        assert_eq!(cap.packets[4].src, Some(CLIENT.into()));
    }

    #[test]
    fn fragments_inherit_the_first_fragment_class() {
        let mut first = gw(17, &udp(4500, 4500, &SPI));
        first[4..8].copy_from_slice(&[0, 7, 0x20, 0]); // id 7, more fragments
        let mut later = gw(17, &[0x55; 16]);
        later[4..8].copy_from_slice(&[0, 7, 0, 3]); // id 7, offset 24
        let mut stray = later.clone();
        stray[5] = 8;
        let v6 = |offset_flags: [u8; 2], body: &[u8]| {
            let fragment = [&[17, 0][..], &offset_flags, &[0, 0, 0, 9], body].concat();
            ipv6(44, "fd00:26::10", "fd00:28::10", &fragment)
        };
        let v6_first = v6([0, 1], &udp(4500, 4500, &SPI));
        let frames = [first, later, stray, v6_first, v6([0, 8], &[0x55; 8])];
        let expected = [EspInUdp, EspInUdp, UDP, EspInUdp, EspInUdp];
        assert_eq!(classes(101, &frames), expected);
    }

    #[test]
    fn ethernet_sll_sll2_and_raw_parse() {
        let ip = ipv4(1, CLIENT, SERVER, &[], &[8, 0, 0, 0]);
        let mut cases = vec![(1, eth(ETH_IPV4, &ip)), (113, sll(ETH_IPV4, &ip))];
        cases.extend([(276, sll2(ETH_IPV4, &ip)), (101, ip.clone()), (12, ip.clone()), (14, ip)]);
        for (linktype, frame) in cases {
            let packet = &capture(linktype, &[frame]).packets[0];
            let expected = (ICMP, Some(SERVER.into()));
            assert_eq!((packet.class, packet.dst), expected, "link type {linktype}");
        }
    }

    #[test]
    fn big_endian_and_nanosecond_files_parse() {
        for (be, nano) in [(false, [0x4d, 0x3c, 0xb2, 0xa1]), (true, [0xa1, 0xb2, 0x3c, 0x4d])] {
            let mut file = pcap(276, be, &[sll2(ETH_IPV4, &gw(50, &SPI))]);
            assert_eq!(parse(&file).unwrap().packets[0].class, Esp);
            file[..4].copy_from_slice(&nano);
            assert_eq!(parse(&file).unwrap().packets[0].class, Esp);
        }
    }

    #[test]
    fn pattern_is_found_only_when_present() {
        let cap = capture(101, &[ipv4(1, CLIENT, SERVER, &[], b"xxTOPSECRET-42xx")]);
        assert!(cap.contains(b"TOPSECRET-42"));
        assert!(!cap.contains(b"TOPSECRET-43"));
        assert!(cap.contains(b""));
    }

    #[test]
    fn truncated_or_foreign_files_are_errors() {
        let file = pcap(101, false, &[gw(50, &SPI)]);
        let err = |bytes: &[u8]| parse(bytes).unwrap_err().to_string();
        let record = "pcap record 0 truncated at byte 24";
        assert_eq!(err(&file[..10]), "pcap file header truncated: 10 of 24 bytes");
        assert_eq!([err(&file[..30]), err(&file[..file.len() - 1])], [record; 2]);
        assert_eq!(err(&pcap(999, false, &[])), "unsupported pcap link type 999");
        assert_eq!(err(&[0; 24]), "not a pcap file (magic 0x00000000)");
        let pcapng = [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a];
        assert!(matches!(parse(&pcapng), Err(PcapError::Pcapng)));
    }

    #[test]
    fn truncated_packets_do_not_panic() {
        let ext = [44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 9]; // hop-by-hop, fragment
        let v6 = ipv6(0, "fd00:1::10", "fd00:3::10", &[&ext[..], &udp(4500, 4500, &SPI)].concat());
        let v4 = ipv4(17, CLIENT, SERVER, &[1; 4], &udp(4500, 4500, &[0xff]));
        let frames = [(276, sll2(ETH_IPV6, &v6)), (1, eth(ETH_IPV4, &v4)), (113, sll(ETH_IPV6, &v6))];
        for (linktype, frame) in frames {
            for n in 0..=frame.len() {
                assert_eq!(capture(linktype, &[frame[..n].to_vec()]).packets.len(), 1);
            }
        }
    }

    /// Property tests: the reader never panics, whatever the file holds, and
    /// what a writer puts in comes back out. Captures come from the daemon's
    /// side and may be cut short by a stopped tcpdump, so the reader must
    /// turn any input into packets or an error.
    mod properties {
        use proptest::prelude::*;

        use super::super::*;
        use super::{eth, ipv4, ipv6, pcap, sll, sll2, udp};

        /// Link types the reader supports, with the framing each one uses.
        const LINKS: [u32; 6] = [1, 12, 14, 101, 113, 276];

        fn frame(linktype: u32, ethertype: u16, payload: &[u8]) -> Vec<u8> {
            match linktype {
                1 => eth(ethertype, payload),
                113 => sll(ethertype, payload),
                276 => sll2(ethertype, payload),
                _ => payload.to_vec(), // raw IP: the version nibble says v4 or v6
            }
        }

        /// A packet and what the reader must make of it.
        #[derive(Debug, Clone)]
        struct Known {
            ethertype: u16,
            payload: Vec<u8>,
            class: Class,
            addrs: Option<(IpAddr, IpAddr)>,
        }

        /// A UDP port that is neither IKE's nor NAT-T's.
        fn plain_port() -> impl Strategy<Value = u16> {
            any::<u16>().prop_filter("not 500 or 4500", |p| *p != 500 && *p != 4500)
        }

        /// The transport layer: (IP protocol, bytes, class).
        fn transport() -> impl Strategy<Value = (u8, Vec<u8>, Class)> {
            let body = || proptest::collection::vec(any::<u8>(), 0..64);
            prop_oneof![
                (plain_port(), body()).prop_map(|(p, b)| (17, udp(500, p, &b), Class::Ike)),
                (plain_port(), body()).prop_map(|(p, b)| (17, udp(p, 500, &b), Class::Ike)),
                body().prop_map(|b| (17, udp(4500, 4500, &[&[0, 0, 0, 0][..], &b].concat()), Class::Ike)),
                Just((17, udp(4500, 4500, &[0xff]), Class::Ike)),
                (plain_port(), any::<[u8; 4]>().prop_filter("an SPI", |s| *s != [0; 4]), body())
                    .prop_map(|(p, spi, b)| (17, udp(p, 4500, &[&spi[..], &b].concat()), Class::EspInUdp)),
                body().prop_map(|b| (50, b, Class::Esp)),
                (plain_port(), plain_port(), body()).prop_map(|(a, b, body)| (
                    17,
                    udp(a, b, &body),
                    Class::Other { protocol: 17 }
                )),
                body().prop_map(|b| (6, b, Class::Other { protocol: 6 })),
                body().prop_map(|b| (1, b, Class::Other { protocol: 1 })),
            ]
        }

        /// An IPv4 or IPv6 packet, or ARP / neighbour discovery where the
        /// link can carry it.
        fn known(linktype: u32) -> BoxedStrategy<Known> {
            let v4 = (transport(), any::<[u8; 4]>(), any::<[u8; 4]>(), 0..=10usize).prop_map(
                |((proto, body, class), src, dst, words)| Known {
                    ethertype: ETH_IPV4,
                    // IPv4 options are skipped by the header length.
                    payload: ipv4(proto, src, dst, &vec![1; words * 4], &body),
                    class,
                    addrs: Some((src.into(), dst.into())),
                },
            );
            let v6 = |t: BoxedStrategy<(u8, Vec<u8>, Class)>| {
                (t, any::<[u8; 16]>(), any::<[u8; 16]>()).prop_map(|((next, body, class), src, dst)| {
                    let (s, d) = (std::net::Ipv6Addr::from(src), std::net::Ipv6Addr::from(dst));
                    Known {
                        ethertype: ETH_IPV6,
                        payload: ipv6(next, &s.to_string(), &d.to_string(), &body),
                        class,
                        addrs: Some((s.into(), d.into())),
                    }
                })
            };
            let nd = (prop_oneof![130..=137u8, Just(143u8)], proptest::collection::vec(any::<u8>(), 3..32))
                .prop_map(|(t, rest)| (58, [&[t][..], &rest].concat(), Class::NeighborDiscovery))
                .boxed();
            let ip = prop_oneof![v4, v6(transport().boxed()), v6(nd)];
            if matches!(linktype, 1 | 113 | 276) {
                let arp = proptest::collection::vec(any::<u8>(), 28).prop_map(|payload| Known {
                    ethertype: ETH_ARP,
                    payload,
                    class: Class::Arp,
                    addrs: None,
                });
                prop_oneof![4 => ip, 1 => arp].boxed()
            } else {
                ip.boxed()
            }
        }

        /// A link type, byte order, timestamp precision and the packets
        /// (each with link padding after it, as Ethernet adds to short frames).
        fn capture() -> impl Strategy<Value = (u32, bool, bool, Vec<(Known, Vec<u8>)>)> {
            proptest::sample::select(LINKS.to_vec()).prop_flat_map(|linktype| {
                let padding = proptest::collection::vec(any::<u8>(), 0..8);
                let packets = proptest::collection::vec((known(linktype), padding), 0..8);
                (Just(linktype), any::<bool>(), any::<bool>(), packets)
            })
        }

        /// The frames of a generated capture, and the file holding them.
        fn file(linktype: u32, be: bool, nano: bool, packets: &[(Known, Vec<u8>)]) -> (Vec<Vec<u8>>, Vec<u8>) {
            let frames: Vec<Vec<u8>> = packets
                .iter()
                .map(|(k, pad)| [frame(linktype, k.ethertype, &k.payload), pad.clone()].concat())
                .collect();
            let mut bytes = pcap(linktype, be, &frames);
            if nano {
                let magic: u32 = 0xa1b2_3c4d;
                bytes[..4].copy_from_slice(&if be { magic.to_be_bytes() } else { magic.to_le_bytes() });
            }
            (frames, bytes)
        }

        /// Where each record starts, and the file's end.
        fn boundaries(frames: &[Vec<u8>]) -> Vec<usize> {
            let mut at = vec![24];
            for f in frames {
                at.push(at.last().unwrap() + 16 + f.len());
            }
            at
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = parse(&bytes);
            }

            /// Valid file and record headers around arbitrary frames, so the
            /// link and IP decoders see the arbitrary bytes (random bytes alone
            /// rarely pass the magic, and a random record length rarely fits).
            #[test]
            fn arbitrary_frames_do_not_panic(
                linktype in proptest::sample::select(LINKS.to_vec()),
                be in any::<bool>(),
                frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..96), 0..8),
            ) {
                let got = parse(&pcap(linktype, be, &frames)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got.packets.len(), frames.len());
            }

            #[test]
            fn known_packets_read_back((linktype, be, nano, packets) in capture()) {
                let (frames, bytes) = file(linktype, be, nano, &packets);
                let got = parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?.packets;
                let want: Vec<Packet> = packets
                    .iter()
                    .zip(&frames)
                    .map(|((k, _), data)| Packet {
                        class: k.class,
                        src: k.addrs.map(|a| a.0),
                        dst: k.addrs.map(|a| a.1),
                        data: data.clone(),
                    })
                    .collect();
                prop_assert_eq!(got, want);
            }

            /// A file cut anywhere (tcpdump stopped mid-write): cut at a record
            /// boundary it holds exactly the records before the cut, cut
            /// elsewhere it is an error naming the first incomplete record.
            #[test]
            fn truncated_files_are_a_prefix_or_an_error(
                (linktype, be, nano, packets) in capture(),
                cut in any::<proptest::sample::Index>(),
            ) {
                let (frames, bytes) = file(linktype, be, nano, &packets);
                let n = cut.index(bytes.len() + 1);
                let result = parse(&bytes[..n]);
                let at = boundaries(&frames);
                match at.iter().position(|&b| b == n) {
                    Some(k) => {
                        let got = result.map_err(|e| TestCaseError::fail(e.to_string()))?.packets;
                        prop_assert_eq!(got.iter().map(|p| &p.data).collect::<Vec<_>>(), frames[..k].iter().collect::<Vec<_>>());
                    }
                    None if n < 24 => prop_assert!(matches!(result, Err(PcapError::TruncatedHeader(m)) if m == n)),
                    None => {
                        let index = at.iter().rposition(|&b| b < n).unwrap();
                        let offset = at[index];
                        prop_assert!(
                            matches!(result, Err(PcapError::TruncatedRecord { index: i, offset: o }) if i == index && o == offset),
                            "cut at {} of {}: {:?}", n, bytes.len(), result.map(|c| c.packets.len())
                        );
                    }
                }
            }

            /// Bit flips anywhere in the file must not panic.
            #[test]
            fn bit_flips_do_not_panic(
                (linktype, be, nano, packets) in capture(),
                flips in proptest::collection::vec(any::<proptest::sample::Index>(), 1..8),
            ) {
                let (_, mut bytes) = file(linktype, be, nano, &packets);
                for f in &flips {
                    let bit = f.index(bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                let _ = parse(&bytes);
            }

            /// Frames cut short (a snap length) or with bytes overwritten
            /// (header fields that lie: lengths, version, header length,
            /// ports) still read as one packet each, with exactly their bytes:
            /// damage inside a frame never panics or shifts the framing.
            #[test]
            fn damaged_frames_keep_their_framing(
                (linktype, be, packets) in capture().prop_map(|(l, be, _, p)| (l, be, p)),
                cuts in proptest::collection::vec(proptest::option::of(any::<proptest::sample::Index>()), 8),
                writes in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..12),
            ) {
                let (mut frames, _) = file(linktype, be, false, &packets);
                for (f, cut) in frames.iter_mut().zip(&cuts) {
                    if let Some(cut) = cut {
                        f.truncate(cut.index(f.len() + 1));
                    }
                }
                let sizes: Vec<usize> = frames.iter().map(Vec::len).collect();
                let total: usize = sizes.iter().sum();
                for (at, value) in writes.iter().filter(|_| total > 0) {
                    // The at-th byte of all frames together.
                    let (mut i, mut k) = (at.index(total), 0);
                    while i >= sizes[k] {
                        i -= sizes[k];
                        k += 1;
                    }
                    frames[k][i] = *value;
                }
                let got = parse(&pcap(linktype, be, &frames)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(got.packets.into_iter().map(|p| p.data).collect::<Vec<_>>(), frames);
            }
        }
    }
}
