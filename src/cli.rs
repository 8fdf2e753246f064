//! Command-line arguments (clap derive). Only maps flags to requests; the
//! work happens in the library. Public so that tests can check that the
//! command lines in docs and workflows still parse.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod bundle;
mod check;
mod lab;
mod up;
pub use bundle::BundleCommand;
pub use check::FormatArg;
pub use lab::LabCommand;
pub use up::UpArgs;

use crate::publish::{BuildRequest, Destination, Push, RequestError, Validation};
use crate::testbed::spec::{Driver, DriverChoice, Esp};

#[derive(Parser, Debug)]
#[command(name = "imgtool", version, about = "Builds, validates and runs the VPN teaching testbed's container images")]
#[command(
    after_help = "Quick start:\n  imgtool up        # start and verify the site-to-site testbed\n  imgtool down      # remove it\n\nExit codes: 0 success, 1 error, 2 usage, 3 a check failed (`up --lab` exits 0 once the lab runs: its score is the student's to raise)."
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
    /// Testbed name (letters, digits, _ . -, up to 32): testbeds with different names run side by side
    #[arg(long, short, default_value = crate::DEFAULT_TESTBED, env = "IMGTOOL_TESTBED")]
    pub name: crate::testbed::TestbedName,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a testbed, wait until every node is healthy, and verify it
    #[command(
        after_help = "Examples:\n  imgtool up\n  imgtool up site-to-site-ipv6 --name v6\n  imgtool up --bundle vpnlab.tar\n  imgtool up --platform linux/arm64 --build\n  imgtool up host-to-host --psk --esp libipsec\n  imgtool up --lab mylab\n  imgtool up --registry 192.168.1.10:5000/vpnlab\n  DOCKER_HOST=ssh://user@lab imgtool up --driver bridge"
    )]
    Up(UpArgs),
    /// Course mode: a student's starting folder, reloading edited files, the reference solution
    #[command(
        subcommand,
        after_help = "Examples:\n  imgtool lab init mylab site-to-site\n  imgtool lab reload mylab\n  imgtool lab solution answers site-to-site"
    )]
    Lab(LabCommand),
    /// Save, verify and load the image set as one file, for machines that cannot pull
    #[command(
        subcommand,
        after_help = "Examples:\n  imgtool bundle save vpnlab.tar\n  imgtool bundle verify vpnlab.tar\n  imgtool bundle load vpnlab.tar"
    )]
    Bundle(BundleCommand),
    /// Verify and grade a running testbed: tunnels, auth, reachability, capture, firewall
    #[command(
        visible_alias = "grade",
        after_help = "Examples:\n  imgtool check --name v6\n  imgtool check --format junit\n  imgtool check --lab mylab\n\n`imgtool grade` is the same command. Each check earns its kind's points from the scenario's\n[grading.points] when it passes. Exit 0 only at full marks (every check passed), else 3."
    )]
    Check {
        #[command(flatten)]
        name: NameArg,
        /// How to print the graded checks
        #[arg(long, value_enum, default_value = "table")]
        format: FormatArg,
        /// Course mode: load this lab folder into the running testbed first (`lab reload`), or start one with it (`up --lab`)
        #[arg(long, value_name = "DIR")]
        lab: Option<PathBuf>,
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
        #[arg(default_value = crate::scenario::DEFAULT)]
        scenario: String,
        /// Output directory (compose.yaml and each node's files)
        #[arg(short, long, default_value = "testbed")]
        output: PathBuf,
        #[command(flatten)]
        name: NameArg,
        /// Network driver (macvlan needs dummy-interface support for its parent)
        #[arg(long, value_enum, default_value = "macvlan")]
        driver: DriverArg,
        /// Image platform (default: the Docker daemon's own)
        #[arg(long, value_name = "OS/ARCH")]
        platform: Option<String>,
    },
    /// Build the images for every platform, validate each platform with the
    /// scenarios' checks, and (with --push) publish them as multi-arch indexes
    #[command(
        after_help = "Examples:\n  imgtool build --dry-run\n  imgtool build --platform linux/amd64\n  imgtool build --push --registry 127.0.0.1:5000/vpnlab --version 1.2.0\n  imgtool build --platform linux/arm64 --push-by-digest --digests-out arm64.json --registry docker.io/vpnlab\n  imgtool build --builder vpnlab   # a buildx builder with a native arm64 node (buildx/README.md)"
    )]
    Build(BuildArgs),
    /// Assemble and push multi-arch indexes from per-platform digest files
    #[command(
        after_help = "Example:\n  imgtool merge amd64.json arm64.json --push --registry docker.io/vpnlab --version 1.2.0"
    )]
    Merge {
        /// Digest files written by `imgtool build --push-by-digest --digests-out`
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        publish: PublishArgs,
        /// Push the indexes (without it, print them)
        #[arg(long)]
        push: bool,
    },
    /// Show an image index: its platforms, digests, sizes and labels
    #[command(after_help = "Example:\n  imgtool inspect 127.0.0.1:5000/vpnlab/gateway:latest")]
    Inspect {
        /// Image reference, e.g. docker.io/vpnlab/router:1.2.0
        reference: String,
        /// CA certificate for a registry with a private CA
        #[arg(long, value_name = "FILE")]
        ca_cert: Option<PathBuf>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check that this machine can run and build the testbed
    #[command(after_help = "Example:\n  imgtool doctor")]
    Doctor,
    /// Serve a classroom mirror: the distribution registry on this machine, as a pull-through cache or a copy
    #[command(
        after_help = "Examples:\n  imgtool mirror --port 5000 --proxy https://registry-1.docker.io\n  imgtool mirror --port 5001 --dir /srv/vpnlab-mirror\n\nFill a copy from a checkout with `imgtool build --push --registry 127.0.0.1:5001/vpnlab`;\nstudents then run `imgtool up --registry TEACHER:PORT/vpnlab` (docs/classroom.md)."
    )]
    Mirror(MirrorArgs),
}

/// `imgtool mirror`.
#[derive(clap::Args, Debug)]
pub struct MirrorArgs {
    /// TCP port to serve on
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// Address to listen on (0.0.0.0: every interface)
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDRESS")]
    pub listen: String,
    /// Be a pull-through cache of this upstream registry, e.g. https://registry-1.docker.io (default: a plain copy to push to)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Where the mirror keeps its images and config.yml (default: imgtool's state directory, mirror/)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Serve HTTPS with this certificate (PEM; with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl MirrorArgs {
    pub fn request(self) -> crate::mirror::MirrorRequest {
        use crate::mirror::{Kind, MirrorRequest, default_dir};
        MirrorRequest {
            listen: self.listen,
            port: self.port,
            kind: self.proxy.map_or(Kind::Copy, Kind::Proxy),
            dir: self.dir.unwrap_or_else(default_dir),
            tls: self.tls_cert.zip(self.tls_key),
        }
    }
}

/// Where and under which tags images are published.
#[derive(clap::Args, Debug, Clone)]
pub struct PublishArgs {
    /// Registry and namespace, e.g. docker.io/vpnlab or 127.0.0.1:5000/vpnlab (default: every registry imgtool.toml lists)
    #[arg(long, value_name = "HOST/NAMESPACE", env = "IMGTOOL_REGISTRY")]
    pub registry: Option<String>,
    /// Release version X.Y.Z: tags X.Y.Z, X.Y, X and, unless a pre-release, latest
    #[arg(long, value_name = "X.Y.Z")]
    pub version: Option<String>,
    /// Extra tag (repeatable)
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// CA certificate for a registry with a private CA
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Platform to build (repeatable; default: imgtool.toml's platforms)
    #[arg(long = "platform", value_name = "OS/ARCH")]
    pub platforms: Vec<String>,
    /// Image to build (repeatable; default: all, plus what they are built from)
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Print the plan (images, platforms, tags, order, cache) and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Publish after validation: per-platform manifests by digest, then one index per image under every tag
    #[arg(long)]
    pub push: bool,
    /// Push per-platform manifests by digest only (no index, no tag); for `imgtool merge`
    #[arg(long, requires = "digests_out")]
    pub push_by_digest: bool,
    /// Where --push-by-digest writes the pushed digests
    #[arg(long, value_name = "FILE")]
    pub digests_out: Option<PathBuf>,
    /// Scenario to validate with (repeatable; default: all built-in)
    #[arg(long = "scenario", value_name = "SCENARIO")]
    pub scenarios: Vec<String>,
    /// Build cache: a local directory or registry reference (type=local/registry); default: the builder's own
    #[arg(long, value_name = "DIR|REF")]
    pub cache: Option<String>,
    /// Build every step again, ignoring the cache (as for a reproducibility check). Without it, an image whose inputs match its kept build is reused as is ("unchanged")
    #[arg(long)]
    pub no_cache: bool,
    /// The buildx builder to build with (`docker buildx ls`; buildx/README.md): default, buildx's current one
    #[arg(long, value_name = "NAME")]
    pub builder: Option<String>,
    /// Skip validation (local builds only: refused with --push or --push-by-digest)
    #[arg(long, conflicts_with_all = ["push", "push_by_digest"])]
    pub no_validate: bool,
    #[command(flatten)]
    pub publish: PublishArgs,
}

impl PublishArgs {
    pub fn destination(&self) -> Destination {
        Destination {
            registry: self.registry.clone(),
            version: self.version.clone(),
            tags: self.tags.clone(),
            ca_cert: self.ca_cert.clone(),
        }
    }
}

impl BuildArgs {
    /// The library's request; refuses `--no-validate` with a push there too,
    /// not only in clap's `conflicts_with_all`.
    pub fn request(self) -> Result<BuildRequest, RequestError> {
        let validation = if self.no_validate { Validation::Skip } else { Validation::Run };
        Ok(BuildRequest {
            push: Push::from_flags(self.push, self.push_by_digest, self.digests_out, validation)?,
            destination: self.publish.destination(),
            platforms: self.platforms,
            images: self.images,
            scenarios: self.scenarios,
            cache: self.cache,
            no_cache: self.no_cache,
            builder: self.builder,
            dry_run: self.dry_run,
        })
    }
}

// The CLI's copies of the library's choices: the library derives no clap
// traits. Their doc comments are the help text of each value.

/// `up --driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverChoiceArg {
    /// macvlan where it works on the daemon's side, else bridge
    Auto,
    /// Internal macvlan networks (fails where macvlan cannot work)
    Macvlan,
    /// Internal bridge networks
    Bridge,
}

impl From<DriverChoiceArg> for DriverChoice {
    fn from(d: DriverChoiceArg) -> DriverChoice {
        match d {
            DriverChoiceArg::Auto => DriverChoice::Auto,
            DriverChoiceArg::Macvlan => DriverChoice::Macvlan,
            DriverChoiceArg::Bridge => DriverChoice::Bridge,
        }
    }
}

/// `render --driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverArg {
    /// Internal macvlan networks, as in the study (a veth pair as parent).
    Macvlan,
    /// Internal bridge networks, where macvlan is unavailable.
    Bridge,
}

impl From<DriverArg> for Driver {
    fn from(d: DriverArg) -> Driver {
        match d {
            DriverArg::Macvlan => Driver::Macvlan,
            DriverArg::Bridge => Driver::Bridge,
        }
    }
}

/// `up --esp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EspArg {
    /// The kernel's where it has ESP for every address family the tunnels use, else userspace
    Auto,
    /// The kernel's (kernel-netlink); refused where the kernel lacks ESP
    Kernel,
    /// Userspace ESP over TUN (kernel-libipsec)
    Libipsec,
}

impl From<EspArg> for Esp {
    fn from(e: EspArg) -> Esp {
        match e {
            EspArg::Auto => Esp::Auto,
            EspArg::Kernel => Esp::Kernel,
            EspArg::Libipsec => Esp::Libipsec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_names_are_the_library_names() {
        for e in EspArg::value_variants() {
            assert_eq!(e.to_possible_value().unwrap().get_name(), Esp::from(*e).name());
        }
        for d in DriverArg::value_variants() {
            let name = serde_json::to_value(Driver::from(*d)).unwrap();
            assert_eq!(name.as_str(), Some(d.to_possible_value().unwrap().get_name()));
        }
        // The values `up --driver` has always taken, each mapped to its own choice.
        let choices: Vec<_> = DriverChoiceArg::value_variants()
            .iter()
            .map(|d| (d.to_possible_value().unwrap().get_name().to_string(), DriverChoice::from(*d)))
            .collect();
        let want = [("auto", DriverChoice::Auto), ("macvlan", DriverChoice::Macvlan), ("bridge", DriverChoice::Bridge)];
        assert_eq!(choices, want.map(|(n, c)| (n.to_string(), c)));
    }

    #[test]
    fn no_validate_with_a_push_is_refused_past_clap_too() {
        // Built by hand: clap's own rule would stop the parse first.
        let cli = Cli::try_parse_from(["imgtool", "build", "--push-by-digest", "--digests-out", "d.json"]).unwrap();
        let Command::Build(mut args) = cli.command else { unreachable!() };
        args.no_validate = true;
        assert!(matches!(args.request(), Err(RequestError::PushWithoutValidation)));
    }
}
