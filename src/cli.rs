//! Command-line arguments (clap derive). Only maps flags to requests; the
//! work happens in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use imgtool::testbed::spec::Driver;

#[derive(Parser, Debug)]
#[command(name = "imgtool", version, about = "Builds, validates and runs the VPN teaching testbed's container images")]
#[command(
    after_help = "Quick start:\n  imgtool up        # start and verify the site-to-site testbed\n  imgtool down      # remove it\n\nExit codes: 0 success, 1 error, 2 usage, 3 a check failed."
)]
pub struct Cli {
    /// Project configuration (default: imgtool.toml here or in a parent, else built-in)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print every docker command before running it
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// No progress output
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug)]
pub struct NameArg {
    /// Testbed name: two testbeds with different names run side by side
    #[arg(long, short, default_value = imgtool::DEFAULT_TESTBED, env = "IMGTOOL_TESTBED")]
    pub name: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a testbed, wait until every node is healthy, and verify it
    #[command(
        after_help = "Examples:\n  imgtool up\n  imgtool up site-to-site-ipv6 --name v6\n  imgtool up --platform linux/arm64 --build\n  imgtool up host-to-host --psk"
    )]
    Up {
        /// Scenario name (site-to-site, site-to-site-ipv6, host-to-host) or a scenario .toml file
        #[arg(default_value = imgtool::scenario::DEFAULT)]
        scenario: String,
        #[command(flatten)]
        name: NameArg,
        /// Image platform, e.g. linux/arm64 (emulated with QEMU on an amd64 host)
        #[arg(long, value_name = "OS/ARCH")]
        platform: Option<String>,
        /// Build the images from images/ instead of using local or pulled ones
        #[arg(long)]
        build: bool,
        /// Authenticate gateways with a random pre-shared key instead of certificates
        #[arg(long)]
        psk: bool,
        /// Network driver
        #[arg(long, value_enum, default_value = "macvlan")]
        driver: Driver,
        /// Leave a testbed that failed to come up in place, for inspection
        #[arg(long)]
        keep: bool,
    },
    /// Verify a running testbed: tunnels, reachability, capture, firewall
    #[command(after_help = "Example:\n  imgtool check --name v6")]
    Check {
        #[command(flatten)]
        name: NameArg,
    },
    /// Show the nodes of a running testbed
    #[command(after_help = "Example:\n  imgtool status")]
    Status {
        #[command(flatten)]
        name: NameArg,
    },
    /// Run a command in a node (a shell without one)
    #[command(after_help = "Examples:\n  imgtool exec client-a1\n  imgtool exec gateway-a -- swanctl --list-sas")]
    Exec {
        /// Node name, e.g. client-a1
        node: String,
        /// Command and arguments (after --)
        #[arg(last = true)]
        cmd: Vec<String>,
        #[command(flatten)]
        name: NameArg,
    },
    /// Capture a node's traffic to a pcap file (for Wireshark)
    #[command(
        after_help = "Examples:\n  imgtool capture router -w router.pcap\n  imgtool capture gateway-a isp-a -w a.pcap --duration 10"
    )]
    Capture {
        /// Node name, e.g. router
        node: String,
        /// Interface inside the node (its network's name); all by default
        #[arg(default_value = "any")]
        iface: String,
        /// Output file
        #[arg(short = 'w', long = "write", value_name = "FILE.pcap")]
        file: PathBuf,
        /// Stop after this many packets
        #[arg(short = 'c', long)]
        count: Option<u32>,
        /// Stop after this many seconds (default: until Ctrl-C)
        #[arg(long)]
        duration: Option<u32>,
        #[command(flatten)]
        name: NameArg,
    },
    /// Remove every container, network, veth link and file of a testbed
    #[command(after_help = "Example:\n  imgtool down --name v6")]
    Down {
        #[command(flatten)]
        name: NameArg,
    },
    /// Write a compose project that runs a scenario with `docker compose` alone
    #[command(
        after_help = "Example:\n  imgtool render site-to-site -o lab && docker compose -f lab/compose.yaml up -d"
    )]
    Render {
        /// Scenario name or .toml file
        #[arg(default_value = imgtool::scenario::DEFAULT)]
        scenario: String,
        /// Output directory (compose.yaml and each node's files)
        #[arg(short, long, default_value = "testbed")]
        output: PathBuf,
        #[command(flatten)]
        name: NameArg,
        /// Network driver (macvlan needs dummy-interface support for its parent)
        #[arg(long, value_enum, default_value = "macvlan")]
        driver: Driver,
    },
    /// Check that this machine can run and build the testbed
    #[command(after_help = "Example:\n  imgtool doctor")]
    Doctor,
}
