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
        self.packets.iter().filter(|p| p.is_cleartext())
    }

    /// Whether any packet's bytes contain `pattern`. An empty pattern is
    /// always found, so a misconfigured secret fails a check instead of passing.
    pub fn contains(&self, pattern: &[u8]) -> bool {
        pattern.is_empty() || self.packets.iter().any(|p| p.carries(pattern))
    }
}

impl Packet {
    /// Neither IKE, ESP, ESP-in-UDP, ARP nor neighbour discovery.
    pub fn is_cleartext(&self) -> bool {
        matches!(self.class, Class::Other { .. } | Class::NonIp { .. })
    }

    /// Whether the packet is from or to one of `addrs`.
    pub fn involves(&self, addrs: &[IpAddr]) -> bool {
        [self.src, self.dst].iter().flatten().any(|a| addrs.contains(a))
    }

    /// Whether the frame's bytes contain `pattern` (an empty one always).
    pub fn carries(&self, pattern: &[u8]) -> bool {
        pattern.is_empty() || self.data.windows(pattern.len()).any(|w| w == pattern)
    }

    /// What the packet carries, without addresses: "ICMP", "protocol 99",
    /// "ESP", "non-IP ethertype 0x88cc", "malformed IP packet".
    pub fn what(&self) -> String {
        match self.class {
            Class::Other { .. } if self.src.is_none() || self.dst.is_none() => "malformed IP packet".into(),
            Class::Other { protocol } => match protocol_name(protocol) {
                Some(name) => name.into(),
                None => format!("protocol {protocol}"),
            },
            Class::NonIp { ethertype } => format!("non-IP ethertype {ethertype:#06x}"),
            Class::Ike => "IKE".into(),
            Class::EspInUdp => "ESP-in-UDP".into(),
            Class::Esp => "ESP".into(),
            Class::Arp => "ARP".into(),
            Class::NeighborDiscovery => "ICMPv6-ND".into(),
        }
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
mod tests;
