//! The containers and networks of a testbed, derived from the scenario: one
//! plan that `up` turns into docker commands and `render` into a compose file.

use std::path::PathBuf;

use crate::nodefiles;
use crate::scenario::{Role, Scenario};

pub const LABEL_TESTBED: &str = "io.imgtool.testbed";
pub const LABEL_NODE: &str = "io.imgtool.node";
pub const LABEL_NETWORK: &str = "io.imgtool.network";
pub const LABEL_SCENARIO: &str = "io.imgtool.scenario";
pub const LABEL_PLATFORM: &str = "io.imgtool.platform";
/// The helper that shares the router's namespace for captures and probes.
pub const OBSERVER: &str = "observer";
/// Suffix of the native container that owns an emulated gateway's network
/// namespace (`<testbed>-<gateway>.netns`). Scenario names cannot hold a
/// '.', so it never clashes with a node.
pub const NETNS_SUFFIX: &str = ".netns";

/// What a container is to the testbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// A node of the scenario.
    #[default]
    Node,
    /// Owns an emulated gateway's network namespace and keeps its firewall:
    /// nftables' netlink is beyond qemu-user, so the gateway cannot load it
    /// itself, and a namespace that outlives the gateway keeps it loaded
    /// across a `docker restart` of the gateway.
    NetnsHolder,
    /// imgtool's own instrument (captures, probes), native, and the owner of
    /// the router's namespace: a container that merely joined it would keep
    /// the old namespace, with the router's MACs, alive across a restart of
    /// the router, which then could not start again.
    Observer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// Internal macvlan networks, as in the study (a veth pair as parent).
    Macvlan,
    /// Internal bridge networks, where macvlan is unavailable.
    Bridge,
}

/// The network driver asked for: `auto` probes the daemon's side once per
/// `up` and picks macvlan where it works, else bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverChoice {
    /// macvlan where it works on the daemon's side, else bridge
    Auto,
    /// Internal macvlan networks (fails where macvlan cannot work)
    Macvlan,
    /// Internal bridge networks
    Bridge,
}

/// Which ESP implementation the gateways use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Esp {
    /// The kernel's where it has ESP for every address family the tunnels use, else userspace
    Auto,
    /// The kernel's (kernel-netlink); refused where the kernel lacks ESP
    Kernel,
    /// Userspace ESP over TUN (kernel-libipsec)
    Libipsec,
}

impl Esp {
    pub fn name(self) -> &'static str {
        match self {
            Esp::Auto => "auto",
            Esp::Kernel => "kernel",
            Esp::Libipsec => "libipsec",
        }
    }
}

/// Image references for one testbed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Images {
    pub router: String,
    pub client: String,
    pub gateway: String,
    /// Native-platform helpers: the observer and veth maker (client image)
    /// and the firewall loader of emulated gateways (gateway image).
    pub native_client: String,
    pub native_gateway: String,
}

impl Images {
    /// imgtool.toml's references (multi-platform tags).
    pub fn from_config(config: &crate::config::Config) -> Images {
        Images::same_for_all(config.reference("router"), config.reference("client"), config.reference("gateway"))
    }

    /// One reference per image, for every platform (a multi-platform tag).
    pub fn same_for_all(router: String, client: String, gateway: String) -> Images {
        Images { router, native_client: client.clone(), client, native_gateway: gateway.clone(), gateway }
    }

    pub fn for_role(&self, role: Role) -> &str {
        match role.image() {
            "router" => &self.router,
            "gateway" => &self.gateway,
            _ => &self.client,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub name: super::name::TestbedName,
    pub platform: String,
    pub native_platform: String,
    pub driver: Driver,
    pub esp: Esp,
    pub images: Images,
    /// Directory holding each node's files (`<state>/nodes/<node>`).
    pub state: PathBuf,
}

impl Options {
    /// Whether the nodes run under emulation (qemu-user), not natively.
    pub fn emulated(&self) -> bool {
        self.platform != self.native_platform
    }

    pub fn container(&self, node: &str) -> String {
        format!("{}-{node}", self.name)
    }
    pub fn network(&self, net: &str) -> String {
        format!("{}-{net}", self.name)
    }
    /// The container that captures and probes in the router's network
    /// namespace: the router itself on a native platform, else its native
    /// observer (see [`containers`]).
    pub fn router_namespace(&self, scenario: &Scenario) -> String {
        if self.emulated() { self.container(OBSERVER) } else { self.container(&scenario.router().name) }
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.state.join("nodes").join(node)
    }
}

#[derive(Debug, Clone)]
pub struct NetworkSpec {
    pub name: String,
    pub scenario_net: String,
    pub driver: Driver,
    /// veth pair (parent, peer) made for a macvlan network.
    pub veth: Option<(String, String)>,
    /// Driver options (`--opt`).
    pub opts: Vec<(String, String)>,
    /// Docker's `--internal`.
    pub internal: bool,
    pub labels: Vec<(String, String)>,
    /// Where its subnet is looked for (`subnets::candidate`).
    pub subnet_seed: u32,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Macvlan => "macvlan",
            Driver::Bridge => "bridge",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub kind: Kind,
    pub name: String,
    pub node: String,
    pub image: String,
    pub platform: String,
    /// (docker network, MAC); or `container:<name>` sharing a namespace.
    pub networks: Vec<(String, String)>,
    pub namespace_of: Option<String>,
    pub cap_add: Vec<&'static str>,
    pub devices: Vec<&'static str>,
    pub sysctls: Vec<(String, String)>,
    /// Node files: (directory on the client, path in the container). `up`
    /// copies them in before the container starts (no bind mounts, so a
    /// remote daemon works); `render` mounts them read-only.
    pub files: Vec<(PathBuf, &'static str)>,
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// Replaces the image's entrypoint (a holder's script).
    pub entrypoint: Option<&'static str>,
    pub command: Vec<String>,
}

/// 32-bit FNV-1a: short stable names for host interfaces.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

pub fn networks(scenario: &Scenario, opts: &Options) -> Vec<NetworkSpec> {
    scenario
        .networks
        .iter()
        .map(|n| {
            let h = fnv1a(&format!("{}/{}", opts.name, n.name)) & 0x0fff_ffff;
            let veth = (opts.driver == Driver::Macvlan).then(|| (format!("it{h:07x}a"), format!("it{h:07x}b")));
            let (driver_opts, internal) = match &veth {
                Some((parent, _)) => (vec![("parent".to_string(), parent.clone())], true),
                // Docker's internal bridges drop routed traffic (addresses
                // outside Docker's subnet) when br_netfilter is loaded; a
                // bridge without a host address and without masquerading is
                // just as closed to the outside and lets the testbed route.
                None => (
                    vec![
                        ("com.docker.network.bridge.inhibit_ipv4".to_string(), "true".to_string()),
                        ("com.docker.network.bridge.enable_ip_masquerade".to_string(), "false".to_string()),
                    ],
                    false,
                ),
            };
            NetworkSpec {
                name: opts.network(&n.name),
                scenario_net: n.name.clone(),
                driver: opts.driver,
                veth,
                opts: driver_opts,
                internal,
                labels: vec![(LABEL_TESTBED.into(), opts.name.to_string()), (LABEL_NETWORK.into(), n.name.clone())],
                subnet_seed: h,
            }
        })
        .collect()
}

pub fn containers(scenario: &Scenario, opts: &Options) -> Vec<ContainerSpec> {
    let v6 = scenario.ipv6_only();
    let mut specs: Vec<ContainerSpec> = scenario
        .nodes
        .iter()
        .map(|node| {
            let dir = opts.node_dir(&node.name);
            let mut sysctls = vec![
                // IPv4 scenarios run without IPv6 so the router's links stay
                // free of neighbour-discovery chatter; IPv6 ones need it on.
                ("net.ipv6.conf.all.disable_ipv6".to_string(), if v6 { "0" } else { "1" }.to_string()),
                ("net.ipv6.conf.default.disable_ipv6".to_string(), if v6 { "0" } else { "1" }.to_string()),
            ];
            if matches!(node.role, Role::Router | Role::Gateway) {
                sysctls.push(("net.ipv4.ip_forward".into(), "1".into()));
                if v6 {
                    sysctls.push(("net.ipv6.conf.all.forwarding".into(), "1".into()));
                }
            }
            let mut spec = ContainerSpec {
                name: opts.container(&node.name),
                node: node.name.clone(),
                image: opts.images.for_role(node.role).to_string(),
                platform: opts.platform.clone(),
                networks: node
                    .links
                    .iter()
                    .map(|l| (opts.network(&l.network), nodefiles::mac(scenario, &node.name, &l.network)))
                    .collect(),
                cap_add: vec!["NET_ADMIN"],
                sysctls,
                files: vec![(dir.clone(), "/etc/imgtool")],
                labels: labels(scenario, opts, &node.name),
                ..Default::default()
            };
            match node.role {
                Role::Gateway => {
                    spec.devices.push("/dev/net/tun");
                    spec.files.push((dir.join("swanctl"), "/etc/swanctl"));
                    // A legacy-format lab's own credentials (course mode).
                    if dir.join("ipsec.d").is_dir() {
                        spec.files.push((dir.join("ipsec.d"), "/etc/ipsec.d"));
                    }
                    spec.env.push(("IMGTOOL_ESP".into(), opts.esp.name().into()));
                    spec.env.push(("IMGTOOL_ESP_FAMILIES".into(), nodefiles::esp_families(scenario).join(" ")));
                    if nodefiles::needs_policy_routing(scenario, node) {
                        spec.env.push(("IMGTOOL_ROUTING".into(), "policy".into()));
                    }
                }
                Role::Server => spec.command = vec!["--serve".into(), scenario.service.port.to_string()],
                Role::Router | Role::Client => {}
            }
            spec
        })
        .collect();
    // On a native platform the gateways own their namespaces and the
    // router's own tools capture and probe (one container less to start).
    if !opts.emulated() {
        return specs;
    }
    for node in &mut specs {
        node.env.push(NEIGHBOURS_NOT_HERE.map(String::from).into());
    }
    let holders: Vec<ContainerSpec> =
        specs.iter_mut().filter(|c| c.devices.contains(&"/dev/net/tun")).map(|gw| netns_holder(gw, opts)).collect();
    specs.extend(holders);
    // An emulated router's namespace belongs to a native observer, so that
    // captures and probes hold there too.
    let router = specs.iter_mut().find(|c| c.node == scenario.router().name).expect("a scenario has a router");
    let observer = ContainerSpec {
        kind: Kind::Observer,
        name: opts.container(OBSERVER),
        node: router.node.clone(),
        image: opts.images.native_client.clone(),
        platform: opts.native_platform.clone(),
        networks: std::mem::take(&mut router.networks),
        sysctls: std::mem::take(&mut router.sysctls),
        cap_add: vec!["NET_ADMIN", "NET_RAW"],
        labels: labels(scenario, opts, OBSERVER),
        ..Default::default()
    };
    router.namespace_of = Some(observer.name.clone());
    specs.push(observer);
    specs
}

/// The native holder of emulated `gateway`'s namespace: it takes the
/// gateway's networks, addresses' MACs, sysctls and hostname, gets only the
/// firewall of the gateway's files (not its keys), and the gateway joins it.
fn netns_holder(gateway: &mut ContainerSpec, opts: &Options) -> ContainerSpec {
    let policy = gateway.env.iter().any(|(k, v)| k == "IMGTOOL_ROUTING" && v == "policy");
    let mut labels = gateway.labels.clone();
    for (k, v) in &mut labels {
        if k == LABEL_NODE {
            v.push_str(NETNS_SUFFIX);
        }
    }
    let holder = ContainerSpec {
        kind: Kind::NetnsHolder,
        name: format!("{}{NETNS_SUFFIX}", gateway.name),
        node: gateway.node.clone(),
        image: opts.images.native_gateway.clone(),
        platform: opts.native_platform.clone(),
        networks: std::mem::take(&mut gateway.networks),
        cap_add: vec!["NET_ADMIN"],
        sysctls: std::mem::take(&mut gateway.sysctls),
        files: super::course::rulesets(&opts.node_dir(&gateway.node)),
        labels,
        entrypoint: Some("sh"),
        command: [
            vec!["-c".to_string(), super::scripts::NETNS_HOLDER.into(), "sh".into()],
            if policy { vec!["policy".to_string()] } else { vec![] },
        ]
        .concat(),
        ..Default::default()
    };
    gateway.namespace_of = Some(holder.name.clone());
    // The holder loads the rulesets: nft under qemu-user would take a
    // second only to fail.
    gateway.env.push(("IMGTOOL_FIREWALL".into(), "outside".into()));
    holder
}

/// On an emulated platform no node sets its neighbour timers, which
/// qemu-user cannot (images/common/node.sh): the native owners of the
/// router's and the gateways' namespaces do; the clients and servers need
/// none, since what they ask for, their gateway, is up before they send.
const NEIGHBOURS_NOT_HERE: [&str; 2] = ["IMGTOOL_NEIGHBOURS", "outside"];

fn labels(scenario: &Scenario, opts: &Options, node: &str) -> Vec<(String, String)> {
    vec![
        (LABEL_TESTBED.into(), opts.name.to_string()),
        (LABEL_NODE.into(), node.into()),
        (LABEL_SCENARIO.into(), scenario.name.clone()),
        (LABEL_PLATFORM.into(), opts.platform.clone()),
    ]
}

impl ContainerSpec {
    /// `docker create` arguments (after `create`; also valid after `run -d`).
    pub fn create_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["--name".into(), self.name.clone(), "--hostname".into(), self.node.clone()];
        if self.namespace_of.is_some() {
            a.truncate(2); // a shared namespace has no hostname of its own
        }
        a.extend(["--platform".into(), self.platform.clone()]);
        // The testbed heals by itself: a container whose main process dies
        // is started again. Not at the daemon's start (unlike
        // `unless-stopped`), so a reboot does not bring back a testbed
        // that nobody asked for.
        a.push("--restart=on-failure".into());
        if let Some(e) = self.entrypoint {
            // A helper's script replaces the image's: its health check would never pass.
            a.extend(["--entrypoint".into(), e.into(), "--no-healthcheck".into()]);
        }
        match &self.namespace_of {
            Some(ns) => a.push(format!("--network=container:{ns}")),
            None => {
                for (net, mac) in &self.networks {
                    a.push(format!("--network=name={net},mac-address={mac}"));
                }
            }
        }
        for c in &self.cap_add {
            a.push(format!("--cap-add={c}"));
        }
        for d in &self.devices {
            a.push(format!("--device={d}"));
        }
        for (k, v) in &self.sysctls {
            a.push(format!("--sysctl={k}={v}"));
        }
        for (k, v) in &self.env {
            a.push(format!("--env={k}={v}"));
        }
        for (k, v) in &self.labels {
            a.push(format!("--label={k}={v}"));
        }
        a.push(self.image.clone());
        a.extend(self.command.iter().cloned());
        a
    }
}
