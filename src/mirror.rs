//! `imgtool mirror`: a classroom's own registry, so fifty students pull from
//! the teacher's machine instead of Docker Hub (10 anonymous pulls an hour
//! per IPv4 address). It is the real distribution registry server (Debian's
//! `docker-registry`, the same binary the tests run), started here on the
//! teacher's machine, not in a container: the daemon may be remote (Docker
//! Desktop's VM, `DOCKER_HOST=ssh://...`), and a port opened where imgtool
//! runs is the one students can be told. This module is the only one that
//! spawns that binary. Two kinds: a pull-through cache of an upstream
//! registry (`proxy.remoteurl`), or a plain copy the teacher fills (e.g.
//! `imgtool build --push --registry HOST:PORT/NAMESPACE`).

use std::ffi::OsString;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

/// The registry server binary, unless `IMGTOOL_REGISTRY_BIN` names another.
const SERVER: &str = "docker-registry";

#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(
        "port {port} is already in use on {listen}: pick another with --port, or stop what listens there (`ss -ltnp 'sport = :{port}'`)"
    )]
    PortInUse { listen: String, port: u16 },
    #[error("cannot listen on {listen}:{port}: {reason}: pick another --listen address or --port")]
    Listen { listen: String, port: u16, reason: String },
    #[error(
        "the registry server `{bin}` is not installed: apt-get install docker-registry (Debian, Ubuntu), or set IMGTOOL_REGISTRY_BIN to a distribution registry binary"
    )]
    NoServer { bin: String },
    #[error(
        "--proxy '{0}' is not an upstream registry URL: give http(s)://HOST[:PORT], e.g. https://registry-1.docker.io or http://10.0.0.5:5000"
    )]
    Upstream(String),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cannot start `{bin}`: {reason}")]
    Spawn { bin: String, reason: String },
    #[error("the registry server exited ({0}): see its log above")]
    Exited(String),
    #[error(transparent)]
    Login(#[from] crate::registry::RegistryError),
}

/// What the mirror holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A pull-through cache of this upstream (`http(s)://HOST[:PORT]`).
    Proxy(String),
    /// A plain registry the teacher fills by pushing.
    Copy,
}

/// `imgtool mirror`, in the library's terms.
#[derive(Debug, Clone)]
pub struct MirrorRequest {
    /// Address to listen on, e.g. `0.0.0.0` (every interface) or `127.0.0.1`.
    pub listen: String,
    pub port: u16,
    pub kind: Kind,
    /// Storage (blobs, manifests) and the server's config.yml.
    pub dir: PathBuf,
    /// Certificate and key (PEM) to serve HTTPS; plain HTTP without.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The default storage: `<state root>/mirror`.
pub fn default_dir() -> PathBuf {
    crate::testbed::state::root().join("mirror")
}

fn check_upstream(url: &str) -> Result<(), MirrorError> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|r| r.trim_end_matches('/')).unwrap_or("");
    let ok = !host.is_empty()
        && !host.contains(['/', '@', '?', '#', ' '])
        && host.split(':').nth(1).is_none_or(|p| p.parse::<u16>().is_ok());
    if ok { Ok(()) } else { Err(MirrorError::Upstream(url.into())) }
}

/// The distribution registry's config.yml for `req`; a cache logs in to its
/// upstream with `login` (user, password) when given.
pub fn config_yaml(req: &MirrorRequest, login: Option<&(String, String)>) -> Result<String, MirrorError> {
    let mut y = String::from("version: 0.1\nlog:\n  level: info\n  accesslog: {disabled: false}\nstorage:\n");
    y += &format!("  filesystem: {{rootdirectory: {}}}\n", quoted(&req.dir.join("data")));
    y += "  delete: {enabled: true}\n";
    y += &format!("http:\n  addr: {}:{}\n", bracketed(&req.listen), req.port);
    if let Some((cert, key)) = &req.tls {
        y += &format!("  tls: {{certificate: {}, key: {}}}\n", quoted(cert), quoted(key));
    }
    if let Kind::Proxy(url) = &req.kind {
        check_upstream(url)?;
        y += &format!("proxy:\n  remoteurl: \"{}\"\n", url.trim_end_matches('/'));
        if let Some((user, password)) = login {
            let q = |v: &str| serde_json::to_string(v).expect("a string serialises");
            y += &format!("  username: {}\n  password: {}\n", q(user), q(password));
        }
    }
    Ok(y)
}

/// A path as a YAML double-quoted string.
fn quoted(path: &Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("a string serialises")
}

fn bracketed(listen: &str) -> String {
    if listen.contains(':') { format!("[{listen}]") } else { listen.to_string() }
}

/// Refuses a port that something already listens on, before the server starts.
pub fn check_port(listen: &str, port: u16) -> Result<(), MirrorError> {
    match TcpListener::bind((listen, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(MirrorError::PortInUse { listen: listen.into(), port })
        }
        Err(e) => Err(MirrorError::Listen { listen: listen.into(), port, reason: e.to_string() }),
    }
}

/// The address students reach: the listen address, or for every interface
/// the one this machine would use towards the outside (no packet is sent).
pub fn student_host(listen: &str) -> String {
    if listen != "0.0.0.0" && listen != "::" {
        return bracketed(listen);
    }
    let probe = UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").and(s.local_addr()));
    probe.map_or_else(|_| "THIS-MACHINE".into(), |a| a.ip().to_string())
}

fn server_bin() -> OsString {
    std::env::var_os("IMGTOOL_REGISTRY_BIN").unwrap_or_else(|| SERVER.into())
}

/// Checks everything, writes the config, says how students use the mirror
/// (`say`), then runs the server in the foreground until it is stopped
/// (Ctrl-C). On Unix imgtool becomes the server, so stopping it stops both.
pub fn serve(req: &MirrorRequest, say: impl FnOnce(&str)) -> Result<(), MirrorError> {
    let bin = server_bin();
    let bin_text = bin.to_string_lossy().into_owned();
    let found = which(&bin);
    let Some(bin_path) = found else { return Err(MirrorError::NoServer { bin: bin_text }) };
    let login = match &req.kind {
        Kind::Proxy(url) => {
            check_upstream(url)?;
            let host = url.split_once("://").map_or(url.as_str(), |(_, h)| h).trim_end_matches('/');
            crate::registry::basic_login(host)?.map(|l| (host.to_string(), l))
        }
        Kind::Copy => None,
    };
    let yaml = config_yaml(req, login.as_ref().map(|(_, l)| l))?;
    check_port(&req.listen, req.port)?;
    let config = req.dir.join("config.yml");
    write_private(&req.dir, &config, &yaml)
        .map_err(|e| MirrorError::Write { path: config.clone(), reason: e.to_string() })?;
    let what = match &req.kind {
        Kind::Proxy(url) => match &login {
            Some((host, _)) => format!("a pull-through cache of {url}, with the docker login for {host}"),
            None => format!("a pull-through cache of {url}"),
        },
        Kind::Copy => format!("a copy in {} (fill it with imgtool build --push --registry ...)", req.dir.display()),
    };
    let scheme = if req.tls.is_some() { "https" } else { "http" };
    let host = student_host(&req.listen);
    say(&format!("mirror on {scheme}://{host}:{}, {what}; Ctrl-C stops it", req.port));
    let mut cmd = std::process::Command::new(&bin_path);
    cmd.arg("serve").arg(&config);
    #[cfg(unix)]
    {
        let e = std::os::unix::process::CommandExt::exec(&mut cmd);
        Err(MirrorError::Spawn { bin: bin_text, reason: e.to_string() })
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(|e| MirrorError::Spawn { bin: bin_text, reason: e.to_string() })?;
        if status.success() { Ok(()) } else { Err(MirrorError::Exited(status.to_string())) }
    }
}

/// Writes the config readable by its owner only: it may hold the upstream login.
fn write_private(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())?;
    // A config.yml left by an older run keeps its mode otherwise.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

/// `bin` as given when it is a path, else found on PATH.
fn which(bin: &OsString) -> Option<PathBuf> {
    let p = Path::new(bin);
    if p.components().count() > 1 {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(p)).find(|c| c.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: Kind) -> MirrorRequest {
        MirrorRequest { listen: "0.0.0.0".into(), port: 5000, kind, dir: "/srv/m".into(), tls: None }
    }

    #[test]
    fn config_of_each_kind() {
        let copy = config_yaml(&req(Kind::Copy), None).unwrap();
        assert!(copy.contains("rootdirectory: \"/srv/m/data\"") && copy.contains("addr: 0.0.0.0:5000"), "{copy}");
        assert!(!copy.contains("proxy"), "{copy}");
        let hub = req(Kind::Proxy("https://registry-1.docker.io/".into()));
        let proxy = config_yaml(&hub, None).unwrap();
        assert!(proxy.ends_with("proxy:\n  remoteurl: \"https://registry-1.docker.io\"\n"), "{proxy}");
        let login = ("bob".to_string(), "p\"w".to_string());
        let proxy = config_yaml(&hub, Some(&login)).unwrap();
        assert!(proxy.ends_with("  username: \"bob\"\n  password: \"p\\\"w\"\n"), "{proxy}");
    }

    #[test]
    fn a_bad_upstream_is_one_line() {
        for bad in ["registry-1.docker.io", "ftp://x", "https://", "https://h/v2", "http://h:port", "https://u:p@h"] {
            let e = config_yaml(&req(Kind::Proxy(bad.into())), None).unwrap_err().to_string();
            assert!(e.contains("is not an upstream registry URL") && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_port_in_use_is_refused() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let e = check_port("127.0.0.1", port).unwrap_err().to_string();
        assert!(e.starts_with(&format!("port {port} is already in use on 127.0.0.1: pick another")), "{e}");
    }
}
