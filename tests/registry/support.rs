//! Real servers for the registry tests: Debian's `docker-registry` on a free
//! loopback port (plain, or TLS with htpasswd basic auth), hand-made OCI
//! layouts, and a small proxy that answers 503 to chosen blob uploads.
//! Also used by tests/publish.rs, which needs only the plain server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::Engine as _;
use sha2::Digest as _;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// TLS material and htpasswd auth for [`RegistryServer::start_with`].
pub struct Secure {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub htpasswd: PathBuf,
}

impl Secure {
    /// The registry configuration lines for it.
    pub fn yaml(&self) -> String {
        format!(
            "  tls: {{certificate: {}, key: {}}}\nauth:\n  htpasswd: {{realm: imgtool-test, path: {}}}\n",
            self.cert.display(),
            self.key.display(),
            self.htpasswd.display()
        )
    }
}

/// A distribution registry with its own storage, killed when dropped.
pub struct RegistryServer {
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RegistryServer {
    pub fn start() -> RegistryServer {
        RegistryServer::start_with("")
    }

    /// With `extra` configuration lines after `http: addr` (more `http` keys at two spaces, then top-level ones).
    pub fn start_with(extra: &str) -> RegistryServer {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        config += extra;
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start docker-registry ({e}): apt-get install docker-registry (or run scripts/setup-debian.sh)")
            });
        for _ in 0..200 {
            if TcpStream::connect(&addr).is_ok() {
                return RegistryServer { addr, child, _dir: dir };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(dir.path().join("registry.log")).unwrap()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        let _ = child.kill();
        panic!("docker-registry did not listen on {addr}");
    }

    /// The tags of a repository over plain HTTP (empty when it has none or does not exist).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let (status, body) = http_get(&self.addr, &format!("/v2/{repository}/tags/list"));
        if status != 200 {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["tags"].as_array().map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect()).unwrap_or_default()
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over plain HTTP/1.0: (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (apt-get install openssl)"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, and a server certificate for 127.0.0.1 signed by it; returns the CA certificate.
pub fn make_certs(dir: &Path, name: &str) -> (PathBuf, Secure) {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(ec)
        .args(["-days", "2", "-subj"])
        .arg(format!("/CN=imgtool test CA {name}"))
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.crt")));
    run(Command::new("openssl")
        .arg("req")
        .args(ec)
        .args(["-subj", "/CN=127.0.0.1"])
        .arg("-keyout")
        .arg(p("srv.key"))
        .arg("-out")
        .arg(p("srv.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-set_serial", "2"])
        .arg("-in")
        .arg(p("srv.csr"))
        .arg("-CA")
        .arg(p("ca.crt"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("srv.crt")));
    (p("ca.crt"), Secure { cert: p("srv.crt"), key: p("srv.key"), htpasswd: p("htpasswd") })
}

/// A minimal ustar archive holding one file.
pub fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    for (at, field) in [(100, "0000644"), (108, "0000000"), (116, "0000000"), (136, "00000000000")] {
        h[at..at + field.len()].copy_from_slice(field.as_bytes());
    }
    h[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

fn put_blob(dir: &Path, bytes: &[u8]) -> (String, u64) {
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    (format!("sha256:{hex}"), bytes.len() as u64)
}

/// Writes an OCI layout like buildx's for `platform` (`linux/arm64/v8`) with
/// one uncompressed tar layer per entry of `files`; returns its directory.
pub fn write_layout(root: &Path, platform: &str, labels: &[(&str, &str)], files: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(platform.replace('/', "-"));
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    let parts: Vec<&str> = platform.split('/').collect();
    let mut plat = serde_json::json!({"architecture": parts[1], "os": parts[0]});
    if let Some(v) = parts.get(2) {
        plat["variant"] = (*v).into();
    }
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (name, content) in files {
        let (digest, size) = put_blob(&dir, &tar_with(name, content.as_bytes()));
        diff_ids.push(digest.clone());
        layers.push(
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}),
        );
    }
    let labels: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(k, v)| (k.to_string(), (*v).into())).collect();
    let mut config = plat.clone();
    config["config"] = serde_json::json!({"Labels": labels});
    config["rootfs"] = serde_json::json!({"type": "layers", "diff_ids": diff_ids});
    let (config_digest, config_size) = put_blob(&dir, &serde_json::to_vec(&config).unwrap());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    let (digest, size) = put_blob(&dir, &serde_json::to_vec_pretty(&manifest).unwrap());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "test"}, "platform": plat,
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    dir
}

/// A proxy to `upstream` that lets `pass` blob-upload starts through, then
/// answers 503 to every later one (or, made with [`FailingProxy::dying`],
/// drops that connection unanswered and stops listening, as a registry
/// that is stopped mid-push).
pub struct FailingProxy {
    pub addr: String,
    stop: Arc<AtomicBool>,
}

impl FailingProxy {
    pub fn start(upstream: &str, pass: usize) -> FailingProxy {
        FailingProxy::with(upstream, pass, false, false)
    }

    pub fn dying(upstream: &str, pass: usize) -> FailingProxy {
        FailingProxy::with(upstream, pass, true, false)
    }

    /// Passes everything but manifests pushed under a tag (not a digest), which get 503.
    pub fn refusing_tags(upstream: &str) -> FailingProxy {
        FailingProxy::with(upstream, usize::MAX, false, true)
    }

    fn with(upstream: &str, pass: usize, die: bool, tags: bool) -> FailingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, stop2, uploads) = (upstream.to_string(), stop.clone(), Arc::new(AtomicUsize::new(0)));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let (upstream, uploads, stop3) = (upstream.clone(), uploads.clone(), stop2.clone());
                if let Ok(conn) = conn {
                    std::thread::spawn(move || {
                        proxy_one(conn, &upstream, &uploads, (pass, tags), die.then_some(&*stop3))
                    });
                }
            }
        });
        FailingProxy { addr, stop }
    }
}

impl Drop for FailingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

/// `fail`: how many blob uploads pass, and whether tagged manifest pushes fail.
fn proxy_one(
    mut client: TcpStream,
    upstream: &str,
    uploads: &AtomicUsize,
    fail: (usize, bool),
    die: Option<&AtomicBool>,
) {
    let (pass, tags) = fail;
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match client.read(&mut piece) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&piece[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let first = head.lines().next().unwrap_or_default().to_string();
    let tag_push =
        tags && first.starts_with("PUT ") && first.contains("/manifests/") && !first.contains("/manifests/sha256:");
    let upload = first.starts_with("POST ") && first.contains("/blobs/uploads/");
    if tag_push || (upload && uploads.fetch_add(1, Ordering::SeqCst) >= pass) {
        if let Some(stop) = die {
            // The registry goes away: no answer, and no more connections.
            stop.store(true, Ordering::SeqCst);
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        }
        let body = "service unavailable\n";
        let _ = write!(
            client,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        return;
    }
    // One request per connection, so each one is seen (and counted) here.
    let mut rewritten: String = head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    rewritten += "Connection: close\r\n\r\n";
    let Ok(mut up) = TcpStream::connect(upstream) else { return };
    let _ = up.write_all(rewritten.as_bytes());
    let _ = up.write_all(&buf[head_end..]);
    let (mut from_client, mut to_up) = (client.try_clone().unwrap(), up.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_up);
    });
    let _ = std::io::copy(&mut up, &mut client);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token issuer for distribution's `auth: token`: an RSA key and its
/// self-signed certificate (the registry's rootcertbundle), and one JWT
/// (RS256, signed with the openssl CLI, the certificate in `x5c`) granting
/// pull and push on `repository`.
pub fn make_token(dir: &Path, service: &str, issuer: &str, repository: &str) -> (PathBuf, String) {
    let (key, cert) = (dir.join("token.key"), dir.join("token.crt"));
    run(Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=imgtool token issuer"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let pem = std::fs::read_to_string(&cert).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [body]});
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({
        "iss": issuer, "sub": "pusher", "aud": service, "exp": now + 3600, "nbf": now - 60, "iat": now, "jti": "imgtool-test",
        "access": [{"type": "repository", "name": repository, "actions": ["pull", "push"]}],
    });
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let (input_file, sig_file) = (dir.join("token.input"), dir.join("token.sig"));
    std::fs::write(&input_file, &input).unwrap();
    run(Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&key)
        .arg("-out")
        .arg(&sig_file)
        .arg(&input_file));
    let jwt = format!("{input}.{}", b64url(&std::fs::read(&sig_file).unwrap()));
    (cert, jwt)
}

/// The token endpoint: hands out `token` to requests with the right basic
/// credentials, 401 to others; counts the tokens it gave.
pub struct TokenServer {
    pub addr: String,
    pub issued: Arc<AtomicUsize>,
}

impl TokenServer {
    pub fn start(user: &str, password: &str, token: String) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let issued = Arc::new(AtomicUsize::new(0));
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        let counter = issued.clone();
        // Serves until the test process ends; each answer closes its connection.
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut head = Vec::new();
                let mut piece = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut piece) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&piece[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let authorized =
                    head.lines().any(|l| l.to_lowercase().starts_with("authorization:") && l[14..].trim() == expected);
                let (status, body) = if authorized {
                    counter.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", serde_json::json!({"token": token, "expires_in": 3600}).to_string())
                } else {
                    ("401 Unauthorized", r#"{"details":"incorrect username or password"}"#.to_string())
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer { addr, issued }
    }
}
