//! Course mode: gateways with the scenario's nodes, networks, routing and
//! NAT, charon running, and no connection nor firewall of imgtool's (bare);
//! or with a student's files in their place (lab). The files travel into
//! the gateways like every node file (a tar through `docker cp`), so this
//! works with remote daemons too. `reload` pushes edited files into a
//! running testbed without restarting a node.

use std::io;
use std::path::{Path, PathBuf};

use super::spec::NETNS_SUFFIX;
use super::{Running, TestbedError, files, state};
use crate::engine::Engine;
use crate::lab::{FIREWALL_TARGET, Lab};
use crate::nodefiles;
use crate::scenario::{Node, Scenario};

/// What `up` gives the gateways.
#[derive(Debug, Clone, Default)]
pub enum Configs {
    /// imgtool's own tunnels and firewall: the finished testbed.
    #[default]
    Finished,
    /// Nothing: charon with no connection, no firewall, imgtool's NAT.
    Bare,
    /// A student's files, per gateway (`lab::load` checked them).
    Lab(Lab),
}

/// What a testbed's gateways were given, as recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Finished,
    Bare,
    Lab,
}

impl Configs {
    pub fn mode(&self) -> Mode {
        match self {
            Configs::Finished => Mode::Finished,
            Configs::Bare => Mode::Bare,
            Configs::Lab(_) => Mode::Lab,
        }
    }
}

/// imgtool's own files of a course-mode gateway, in /etc/imgtool (the
/// gateway image looks for them there: images/gateway/entrypoint.sh).
const NAT_FILE: &str = "nat.nft";
const GATE_FILE: &str = "gate.nft";
/// The rulesets of a gateway's state directory, and where they go: what an
/// emulated gateway's native holder loads for it (`spec::netns_holder`).
pub const NFT_FILES: [(&str, &str); 3] =
    [("firewall.nft", FIREWALL_TARGET), (NAT_FILE, "/etc/imgtool/nat.nft"), (GATE_FILE, "/etc/imgtool/gate.nft")];
/// The rulesets of [`NFT_FILES`] that gateway state directory `dir` holds
/// (a bare gateway has no student firewall), with their container paths.
pub fn rulesets(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    NFT_FILES.iter().map(|(file, target)| (dir.join(file), *target)).filter(|(path, _)| path.is_file()).collect()
}

/// The gateway image's loader of the student's IKE configuration.
const LAB_LOAD: &str = "/usr/local/lib/imgtool/lab-load";

/// Drops IKE to this gateway until its configuration is loaded (see
/// images/gateway/entrypoint.sh): a peer that initiates early retransmits
/// rather than being told NO_PROPOSAL_CHOSEN, which charon never retries.
pub const GATE: &str = "# imgtool: IKE is dropped until this gateway's IKE configuration is loaded
table inet imgtool_gate
delete table inet imgtool_gate
table inet imgtool_gate {
  chain input {
    type filter hook input priority filter - 10; policy accept;
    udp dport { 500, 4500 } drop
  }
}
";

/// Where a gateway's file at container path `target` (one of those
/// `lab::load` gives) is kept in its state directory (`nodes/<gateway>/`),
/// whose top `up` copies to /etc/imgtool, its `swanctl` folder to
/// /etc/swanctl and its `ipsec.d` folder to /etc/ipsec.d. Always a
/// relative path: never a file outside the state directory.
pub fn state_path(target: &str) -> PathBuf {
    for (root, folder) in [("/etc/swanctl/", "swanctl"), ("/etc/ipsec.d/", "ipsec.d"), ("/etc/imgtool/", "")] {
        if let Some(rest) = target.strip_prefix(root) {
            return Path::new(folder).join(rest);
        }
    }
    PathBuf::from(target.trim_start_matches('/'))
}

/// Writes a course-mode gateway's files into its state directory `nd`:
/// imgtool's NAT and IKE gate, swanctl's folders (for the certificates `up`
/// makes), and the student's files, if any. No `children`, no `initiate`:
/// the student's configuration starts the tunnels, and the gateway is
/// healthy once charon has loaded it.
pub fn write_gateway(nd: &Path, scenario: &Scenario, node: &Node, lab: Option<&Lab>) -> io::Result<()> {
    state::write_private(&nd.join(NAT_FILE), &nodefiles::nat_table(scenario, node))?;
    state::write_private(&nd.join(GATE_FILE), GATE)?;
    for sub in ["x509", "x509ca", "pkcs8"] {
        state::private_dir(&nd.join("swanctl").join(sub))?;
    }
    if let Some(lab) = lab {
        for f in lab.gateway(&node.name).into_iter().flat_map(|g| &g.files) {
            let dest = nd.join(state_path(&f.target));
            if let Some(parent) = dest.parent() {
                state::private_dir(parent)?;
            }
            state::write_private(&dest, &f.text)?;
        }
    }
    Ok(())
}

/// The container that runs nft for gateway `node`: the gateway itself, or
/// on an emulated platform (where qemu-user cannot speak nftables' netlink)
/// the native holder of its network namespace.
fn nft_container(tb: &Running, node: &str) -> String {
    let container = tb.opts.container(node);
    if tb.opts.emulated() { format!("{container}{NETNS_SUFFIX}") } else { container }
}

fn gateways(tb: &Running) -> Vec<&Node> {
    tb.scenario.nodes.iter().filter(|n| nodefiles::is_gateway(n)).collect()
}

/// What a gateway reported of the student's files while starting (nft and
/// swanctl errors), one line per problem, each naming the lab file.
pub fn start_problems(engine: &Engine, tb: &Running) -> Vec<String> {
    let gateways = gateways(tb);
    let logs = crate::parallel::map(&gateways, |g| {
        let mut containers = vec![tb.opts.container(&g.name)];
        containers.push(nft_container(tb, &g.name));
        containers.dedup();
        let read = |c: &String| engine.run(&["exec", c, "cat", "/run/imgtool/lab.log"]).unwrap_or_default();
        containers.iter().map(read).collect::<String>()
    });
    gateways.iter().zip(logs).flat_map(|(g, log)| problems(&g.name, &log)).collect()
}

/// Opens the IKE gates that an emulated testbed's holders loaded (natively,
/// the gateways open their own once their configuration is loaded; here
/// `up` has waited for that: a course-mode gateway is healthy once loaded).
fn open_emulated_gates(engine: &Engine, tb: &Running) {
    if tb.opts.emulated() {
        crate::parallel::map(&gateways(tb), |g| {
            let _ =
                engine.run(&["exec", &nft_container(tb, &g.name), "nft", "delete", "table", "inet", "imgtool_gate"]);
        });
    }
}

/// One line per error in `output` (nft's or swanctl's), with container
/// paths turned back into the lab folder's `gateway/file`.
pub fn problems(gateway: &str, output: &str) -> Vec<String> {
    let local = |line: &str| {
        line.replace("/etc/imgtool/firewall.nft", &format!("{gateway}/firewall.nft"))
            .replace("/etc/swanctl/", &format!("{gateway}/"))
            .replace("/etc/imgtool/ipsec.", &format!("{gateway}/ipsec."))
            .replace("/etc/ipsec.", &format!("{gateway}/ipsec."))
    };
    let mut out = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // nft: "FILE:LINE:COL-COL: Error: what", then the line and a caret.
        if line.contains(": Error: ") {
            out.push(local(line));
        } else if line.starts_with("/etc/ipsec.conf:") {
            // starter: "/etc/ipsec.conf:LINE: what".
            out.push(local(line));
        } else if let Some(what) = line.strip_prefix("# ") {
            // starter, on what it skips: "# unknown keyword 'x'" (no line number).
            out.push(format!("{gateway}/ipsec.conf: {what}"));
        } else if line.starts_with("###") || line.starts_with("unable to start strongSwan") {
            // starter's totals and last words: the errors are on their own lines.
        } else if line.starts_with("loaded ") {
            // The totals ("loaded 0 of 1 connections, 1 failed to load"): the failure is on its own line.
        } else if line.contains("failed") || line.contains("error") || line.contains("invalid") {
            // swanctl: "FILE:LINE: syntax error, ...", or "loading connection 'x' failed: ...",
            // which names no file: the gateway then.
            if line.starts_with("/etc/") {
                out.push(local(line));
            } else {
                out.push(format!("{gateway}: {}", local(line)));
            }
        }
    }
    // "invalid config file 'F'" only repeats, without the line, the error
    // just found in F: one line per problem.
    if out.len() > 1 {
        out.retain(|l| !l.contains("invalid config file"));
    }
    out
}

/// Pushes a student's edited files into a running course-mode testbed and
/// loads them: on every gateway at once the ruleset (nft is atomic: a file
/// it rejects changes nothing), imgtool's NAT and the IKE gate; then
/// the IKE configurations everywhere; then the gates open, and (when all
/// loaded) a wait of at most [`SETTLE`] for the tunnels. Returns the
/// problems found, one line each; an empty list means all loaded.
pub fn reload(engine: &Engine, tb: &Running, lab: &Lab) -> Result<Vec<String>, TestbedError> {
    if tb.record.course == Mode::Finished {
        return Err(TestbedError::NotCourse(tb.opts.name.to_string()));
    }
    let gateways = gateways(tb);
    let state_error = |source| TestbedError::State { path: tb.opts.state.clone(), source };
    // A bare testbed given files is a lab one from now on.
    let record = state::Record { course: Mode::Lab, ..tb.record.clone() };
    state::write_record(&tb.opts.state, &record).map_err(state_error)?;
    for g in &gateways {
        write_gateway(&tb.opts.node_dir(&g.name), &tb.scenario, g, Some(lab)).map_err(state_error)?;
    }
    let copied = crate::parallel::map(&gateways, |g| -> Result<(), TestbedError> {
        let nd = tb.opts.node_dir(&g.name);
        let mut sources: Vec<(PathBuf, String)> = Vec::new();
        for f in lab.gateway(&g.name).into_iter().flat_map(|g| &g.files) {
            sources.push((nd.join(state_path(&f.target)), f.target.clone()));
        }
        for f in [NAT_FILE, GATE_FILE] {
            sources.push((nd.join(f), format!("/etc/imgtool/{f}")));
        }
        let pairs: Vec<(PathBuf, &str)> = sources.iter().map(|(p, c)| (p.clone(), c.as_str())).collect();
        let archive = files::pack(&pairs).map_err(state_error)?;
        engine.run_input(&["cp", "-", &format!("{}:/", tb.opts.container(&g.name))], archive)?;
        let nft_at = nft_container(tb, &g.name);
        if nft_at != tb.opts.container(&g.name) {
            let archive = files::pack(&rulesets(&nd)).map_err(state_error)?;
            engine.run_input(&["cp", "-", &format!("{nft_at}:/")], archive)?;
        }
        Ok(())
    });
    copied.into_iter().collect::<Result<Vec<_>, _>>()?;

    let exec_in = |container: String, args: &[&str]| {
        let mut all = vec!["exec", container.as_str()];
        all.extend(args);
        engine.output(&all).map(|r| (r.ok(), format!("{}{}", r.stdout, r.stderr)))
    };
    let exec = |g: &Node, args: &[&str]| exec_in(tb.opts.container(&g.name), args);
    let nft = |g: &Node, args: &[&str]| exec_in(nft_container(tb, &g.name), args);
    let firewalls = crate::parallel::map(&gateways, |g| -> Result<Vec<String>, TestbedError> {
        let mut found = Vec::new();
        if lab.gateway(&g.name).is_some_and(|f| f.file(FIREWALL_TARGET).is_some()) {
            let (ok, text) = nft(g, &["nft", "-f", FIREWALL_TARGET])?;
            if !ok {
                found.extend(problems(&g.name, &text));
            }
        }
        for f in [NAT_FILE, GATE_FILE].map(|f| format!("/etc/imgtool/{f}")) {
            let (ok, text) = nft(g, &["nft", "-f", &f])?;
            if !ok {
                found.push(format!("{}: imgtool's {f} did not load: {}", g.name, crate::engine::last_lines(&text, 1)));
            }
        }
        Ok(found)
    });
    let loads = crate::parallel::map(&gateways, |g| -> Result<Vec<String>, TestbedError> {
        // The image's loader (images/strongswan/lab-load.sh): swanctl.conf
        // into the running charon, or ipsec.conf by starting starter again.
        // swanctl exits 0 after a syntax error: the output is judged.
        let format = if lab.gateway(&g.name).is_some_and(|f| f.legacy()) { "legacy" } else { "swanctl" };
        let (ok, text) = exec(g, &[LAB_LOAD, format])?;
        let _ = nft(g, &["nft", "delete", "table", "inet", "imgtool_gate"]);
        let mut found = problems(&g.name, &text);
        if !ok {
            found.push(format!(
                "{}: loading the IKE configuration failed: {}",
                g.name,
                crate::engine::last_lines(&text, 1)
            ));
        }
        Ok(found)
    });
    let mut found = Vec::new();
    for r in firewalls.into_iter().chain(loads) {
        found.extend(r?);
    }
    // Loading starts the tunnels again (a restarted starter, or swanctl's
    // start_action): `check` right after should judge them, not their start.
    if found.is_empty() {
        wait_for_tunnels(engine, tb);
    }
    Ok(found)
}

/// How long `up --lab` waits for the student's tunnels before checking:
/// a right configuration is up within about two seconds here (the gate
/// holds early IKE back for at most one retransmission, 0.5 s); the rest
/// covers a loaded machine. A wrong one is then judged by the checks.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// After a course-mode `up`: the problems the gateways reported with the
/// student's files, and (lab mode) a wait of at most [`SETTLE`] until the
/// initiator of every tunnel holds it as the tunnel check will judge it.
pub fn settle(engine: &Engine, tb: &Running) -> Vec<String> {
    open_emulated_gates(engine, tb);
    let found = start_problems(engine, tb);
    if tb.record.course == Mode::Lab {
        wait_for_tunnels(engine, tb);
    }
    found
}

/// Waits at most [`SETTLE`] until the initiator of every tunnel holds it
/// as the tunnel check will judge it.
fn wait_for_tunnels(engine: &Engine, tb: &Running) {
    let deadline = std::time::Instant::now() + SETTLE;
    while std::time::Instant::now() < deadline {
        let up = tb.scenario.tunnels.iter().all(|t| {
            engine.run(&["exec", &tb.opts.container(&t.initiator), "swanctl", "--list-sas", "--raw"]).is_ok_and(|out| {
                crate::check::tunnels::end_problem(t, &t.initiator, &crate::check::swanctl::parse(&out)).is_none()
            })
        });
        if up {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_kept_where_up_copies_them_from() {
        assert_eq!(state_path(FIREWALL_TARGET), Path::new("firewall.nft"));
        assert_eq!(state_path("/etc/swanctl/swanctl.conf"), Path::new("swanctl/swanctl.conf"));
        assert_eq!(state_path("/etc/swanctl/x509/mine.pem"), Path::new("swanctl/x509/mine.pem"));
        assert_eq!(state_path(crate::lab::IPSEC_CONF_TARGET), Path::new("ipsec.conf"));
        assert_eq!(state_path("/etc/ipsec.d/certs/mine.pem"), Path::new("ipsec.d/certs/mine.pem"));
        assert!(state_path("/etc/passwd").is_relative());
    }

    #[test]
    fn errors_name_the_lab_file_and_line() {
        let nft = "/etc/imgtool/firewall.nft:3:5-10: Error: syntax error, unexpected string\n    acept\n    ^^^^^\n";
        assert_eq!(
            problems("gateway-a", nft),
            ["gateway-a/firewall.nft:3:5-10: Error: syntax error, unexpected string"]
        );
        let swanctl = "loading connection 'site' failed: invalid value for: local_ts, config discarded\nloaded 0 of 1 connections, 1 failed to load, 0 unloaded\n";
        assert_eq!(
            problems("gateway-s", swanctl),
            ["gateway-s: loading connection 'site' failed: invalid value for: local_ts, config discarded"]
        );
        let syntax = "loaded certificate from '/etc/swanctl/x509/gateway-s.pem'\nno connections found, 0 unloaded\n/etc/swanctl/swanctl.conf:2: syntax error, unexpected '{', expecting NAME or NEWLINE or '}'\ninvalid config file '/etc/swanctl/swanctl.conf'\n";
        assert_eq!(
            problems("gateway-s", syntax),
            ["gateway-s/swanctl.conf:2: syntax error, unexpected '{', expecting NAME or NEWLINE or '}'"]
        );
        // starter (the legacy format), as it prints a fatal and a skipped setting.
        let starter = "Starting strongSwan 5.9.8 IPsec [starter]...\n/etc/ipsec.conf:19: missing value for setting 'bogus'\ninvalid config file '/etc/ipsec.conf'\nunable to start strongSwan -- fatal errors in config\n";
        assert_eq!(problems("gateway-a", starter), ["gateway-a/ipsec.conf:19: missing value for setting 'bogus'"]);
        let skipped = "Starting strongSwan 5.9.8 IPsec [starter]...\n# unknown keyword 'frobnicate'\n### 1 parsing error (0 fatal) ###\ncharon (36) started after 40 ms\n";
        assert_eq!(problems("gateway-a", skipped), ["gateway-a/ipsec.conf: unknown keyword 'frobnicate'"]);
        assert!(
            problems("gateway-a", "Starting strongSwan 5.9.8 IPsec [starter]...\ncharon (36) started after 40 ms\n")
                .is_empty()
        );
        assert!(
            problems("gateway-a", "loaded connection 'x'\nsuccessfully loaded 1 connections, 0 unloaded\n").is_empty()
        );
    }

    #[test]
    fn a_bare_gateway_gets_nat_gate_and_swanctl_folders_and_a_lab_one_its_files() {
        let s = Scenario::load("site-to-site").unwrap();
        let gw = s.node("gateway-a").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        write_gateway(tmp.path(), &s, gw, None).unwrap();
        assert!(tmp.path().join("nat.nft").is_file() && tmp.path().join("gate.nft").is_file());
        assert!(tmp.path().join("swanctl/x509ca").is_dir());
        assert!(!tmp.path().join("firewall.nft").exists() && !tmp.path().join("swanctl/swanctl.conf").exists());
        let students = tmp.path().join("lab");
        crate::lab::init(&students, &s, &Default::default()).unwrap();
        let lab = crate::lab::load(&students, &s).unwrap();
        write_gateway(tmp.path(), &s, gw, Some(&lab)).unwrap();
        let template = std::fs::read_to_string(students.join("gateway-a/swanctl.conf")).unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("swanctl/swanctl.conf")).unwrap(), template);
        assert!(tmp.path().join("firewall.nft").is_file());
    }
}
