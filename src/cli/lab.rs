//! `imgtool lab ...`: course mode's folders.

use std::path::PathBuf;

use clap::Subcommand;

use super::NameArg;

/// `imgtool lab ...`.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Write a starting folder: per gateway a swanctl.conf and a firewall.nft template, and a README with the topology
    #[command(
        after_help = "Examples:\n  imgtool lab init mylab\n  imgtool lab init v6lab site-to-site-ipv6\n  imgtool lab init mylab --legacy"
    )]
    Init {
        /// The folder to write (must not exist, or be empty)
        dir: PathBuf,
        /// Scenario name or a scenario .toml file
        #[arg(default_value = crate::scenario::DEFAULT)]
        scenario: String,
        /// ipsec.conf and ipsec.secrets templates (starter and stroke) in place of swanctl.conf
        #[arg(long)]
        legacy: bool,
    },
    /// Copy DIR's edited files into the running testbed's gateways and load them, restarting nothing
    #[command(after_help = "Examples:\n  imgtool lab reload mylab\n  imgtool lab reload mylab --name alice")]
    Reload {
        /// The student's folder, as given to `imgtool up --lab`
        dir: PathBuf,
        #[command(flatten)]
        name: NameArg,
    },
    /// Write the reference solution, for teachers (imgtool.toml's [course] solutions = true)
    #[command(
        after_help = "Examples:\n  imgtool lab solution answers\n  imgtool lab solution answers host-to-host\n  imgtool lab solution answers --legacy"
    )]
    Solution {
        /// The folder to write (must not exist, or be empty)
        dir: PathBuf,
        /// Scenario name or a scenario .toml file
        #[arg(default_value = crate::scenario::DEFAULT)]
        scenario: String,
        /// In the legacy format: ipsec.conf and ipsec.secrets in place of swanctl.conf
        #[arg(long)]
        legacy: bool,
    },
}
