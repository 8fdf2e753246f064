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
            (plain_port(), any::<[u8; 4]>().prop_filter("an SPI", |s| *s != [0; 4]), body()).prop_map(|(p, spi, b)| (
                17,
                udp(p, 4500, &[&spi[..], &b].concat()),
                Class::EspInUdp
            )),
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
        let frames: Vec<Vec<u8>> =
            packets.iter().map(|(k, pad)| [frame(linktype, k.ethertype, &k.payload), pad.clone()].concat()).collect();
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
