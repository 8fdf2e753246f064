//! The subnet each testbed network is created with. Nodes drop Docker's
//! addresses and set the scenario's own (images/common/node.sh), so this
//! subnet is only Docker's bookkeeping; but without one, every network
//! takes a whole /16 or /20 of Docker's default pools, and the daemon runs
//! out after five site-to-site testbeds. Each network instead takes a /26
//! of 198.18.0.0/15 (RFC 2544, for benchmarking: never routed, rarely on a
//! LAN; no host address or route is made for it), picked from a hash of
//! its name and probed onward when the daemon says it overlaps another:
//! the daemon's own check decides, so concurrent `up`s cannot race.

/// How many /26 blocks 198.18.0.0/15 holds.
const BLOCKS: u32 = 1 << (17 - 6);
/// How many blocks a network tries before giving up.
pub const ATTEMPTS: u32 = 64;

/// The `attempt`th candidate subnet of a network whose name hashes to `seed`.
pub fn candidate(seed: u32, attempt: u32) -> String {
    // An odd stride visits every block of the power-of-two range.
    let block = seed.wrapping_add(attempt.wrapping_mul(0x9e37_79b1)) % BLOCKS;
    let first = u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + block * 64;
    format!("{}/26", std::net::Ipv4Addr::from(first))
}

/// Whether the daemon refused a subnet because another network has it.
pub fn overlaps(error: &str) -> bool {
    error.contains("Pool overlaps")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_stay_in_the_benchmarking_range_and_differ() {
        let all: Vec<String> = (0..ATTEMPTS).map(|a| candidate(0xdead_beef, a)).collect();
        assert!(all.iter().all(|s| s.starts_with("198.18.") || s.starts_with("198.19.")), "{all:?}");
        assert!(all.iter().all(|s| s.ends_with("/26")));
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "each attempt is another block");
        assert_eq!(candidate(0, 0), "198.18.0.0/26");
        assert_eq!(candidate(BLOCKS - 1, 0), "198.19.255.192/26");
    }

    #[test]
    fn the_daemons_overlap_answer_is_recognised() {
        assert!(overlaps("Error response from daemon: Pool overlaps with other one on this address space"));
        assert!(!overlaps("Error response from daemon: network with name x already exists"));
    }
}
