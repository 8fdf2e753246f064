//! `imgtool up`'s flags.

use std::path::PathBuf;

use clap::Args;

use super::{DriverChoiceArg, EspArg, NameArg};

/// `imgtool up ...`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Scenario name (site-to-site, site-to-site-ipv6, host-to-host) or a scenario .toml file [default: the --lab folder's, else site-to-site]
    pub scenario: Option<String>,
    #[command(flatten)]
    pub name: NameArg,
    /// Image platform, e.g. linux/arm64 (emulated with QEMU on an amd64 host)
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Build the images from images/ instead of using local or pulled ones
    #[arg(long)]
    pub build: bool,
    /// Authenticate gateways with a random pre-shared key instead of certificates
    #[arg(long)]
    pub psk: bool,
    /// Network driver: auto picks macvlan where it works on the daemon's side, else bridge
    #[arg(long, value_enum, default_value = "auto")]
    pub driver: DriverChoiceArg,
    /// ESP implementation of the gateways: auto uses the kernel's where it has ESP for every family the tunnels use
    #[arg(long, value_enum, default_value = "auto")]
    pub esp: EspArg,
    /// Leave a testbed that failed to come up in place, for inspection
    #[arg(long)]
    pub keep: bool,
    /// Seconds to wait for every node to be ready (default 60, 240 on an emulated platform)
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Pull the images from this registry and namespace only (default: imgtool.toml's registries, tried in order), e.g. 127.0.0.1:5000/vpnlab
    #[arg(long, value_name = "HOST/NAMESPACE", env = "IMGTOOL_REGISTRY")]
    pub registry: Option<String>,
    /// Image tag to run (default: imgtool.toml's, "latest"; in the imgtool image, its own release's)
    #[arg(long, env = "IMGTOOL_TAG")]
    pub tag: Option<String>,
    /// Load this bundle (`imgtool bundle save`) first and run its images: no pull, no registry
    #[arg(long, value_name = "FILE", conflicts_with = "build")]
    pub bundle: Option<PathBuf>,
    /// Course mode: the scenario bare, with the student's files from DIR in the gateways (`imgtool lab init` writes a start)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["psk", "bare"])]
    pub lab: Option<PathBuf>,
    /// Course mode: the scenario bare: routing and NAT, charon with no connection, no firewall
    #[arg(long, conflicts_with = "psk")]
    pub bare: bool,
}
