//! `TlsRegistry`: a distribution registry serving HTTPS with a certificate from a CA made for the
//! test (openssl), behind htpasswd Basic auth (bcrypt entries), on its own loopback port; stopped
//! on drop. `trust_in_docker` puts the CA where the engine (and refit) look for it,
//! `/etc/docker/certs.d/<host:port>/ca.crt`, read per pull without a restart; drop removes it.

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::registry::{register_docker_config, stop, write_docker_config};

const CERTS_D: &str = "/etc/docker/certs.d";

pub struct TlsRegistry {
    addr: String,
    dir: tempfile::TempDir,
    child: Child,
    ca: PathBuf,
    docker_config: PathBuf,
    /// The certs.d folder this registry created, removed on drop.
    trusted: Option<PathBuf>,
}

impl TlsRegistry {
    /// Starts a registry that lets `user` in with `password` only, and has the harness push to it
    /// with those credentials.
    pub fn start(user: &str, password: &str) -> TlsRegistry {
        let dir = tempfile::Builder::new()
            .prefix("refit-it-tls-registry-")
            .tempdir()
            .expect("create the registry's temp dir");
        let ca = make_certificates(dir.path());
        let hash = bcrypt::hash(password, 4).expect("bcrypt");
        fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        let mut last_log = String::new();
        for _ in 0..3 {
            match try_start(dir.path(), &ca) {
                Ok((addr, child)) => {
                    let docker_config = write_docker_config(dir.path(), &addr, user, password);
                    register_docker_config(&addr, Some(docker_config.clone()));
                    return TlsRegistry {
                        addr,
                        dir,
                        child,
                        ca,
                        docker_config,
                        trusted: None,
                    };
                }
                Err(log) => last_log = log,
            }
        }
        panic!("the TLS registry did not start:\n{last_log}");
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The CA certificate (PEM) the registry's certificate chains to.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// A docker config dir whose `config.json` holds the registry's credentials under `auths`.
    pub fn docker_config(&self) -> &Path {
        &self.docker_config
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Puts the CA in `/etc/docker/certs.d/<addr>/ca.crt`.
    pub fn trust_in_docker(&mut self) {
        let folder = Path::new(CERTS_D).join(&self.addr);
        fs::create_dir_all(&folder).expect("create the certs.d folder (run as root)");
        fs::copy(&self.ca, folder.join("ca.crt")).expect("copy the CA to certs.d");
        self.trusted = Some(folder);
    }

    /// Removes what `trust_in_docker` put there.
    pub fn untrust_in_docker(&mut self) {
        if let Some(folder) = self.trusted.take() {
            let _ = fs::remove_dir_all(folder);
        }
    }
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        self.untrust_in_docker();
        stop(&mut self.child);
        register_docker_config(&self.addr, None);
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (P-256 keys: quick to make). Returns
/// the CA certificate's path; the server's are `server.crt` and `server.key` in `dir`.
fn make_certificates(dir: &Path) -> PathBuf {
    let ca = dir.join("ca.crt");
    let path = |name: &str| dir.join(name).to_str().expect("UTF-8").to_owned();
    let ext = dir.join("server.ext");
    fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let steps: [Vec<String>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=refit test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([path("ca.key"), "-out".into(), path("ca.crt")])
        .collect(),
        [
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([path("server.key"), "-out".into(), path("server.csr")])
        .collect(),
        ["x509", "-req", "-days", "2", "-CAcreateserial", "-in"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                path("server.csr"),
                "-CA".into(),
                path("ca.crt"),
                "-CAkey".into(),
                path("ca.key"),
                "-extfile".into(),
                path("server.ext"),
                "-out".into(),
                path("server.crt"),
            ])
            .collect(),
    ];
    for args in steps {
        let output = Command::new("openssl")
            .args(&args)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    ca
}

/// One attempt on a free port; on failure, the registry's log.
fn try_start(dir: &Path, ca: &Path) -> Result<(String, Child), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.join(format!("config-{port}.yml"));
    let yaml = format!(
        "version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
auth:
  htpasswd:
    realm: refit-test
    path: {htpasswd}
http:
  addr: {addr}
  secret: refit-tls-registry
  tls:
    certificate: {cert}
    key: {key}
",
        root = dir.join("data").display(),
        htpasswd = dir.join("htpasswd").display(),
        cert = dir.join("server.crt").display(),
        key = dir.join("server.key").display(),
    );
    fs::write(&config, yaml).map_err(|e| e.to_string())?;
    let log = dir.join(format!("registry-{port}.log"));
    let file = File::create(&log).map_err(|e| e.to_string())?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    // `timeout` bounds the life of a registry whose test was killed before its drop ran.
    let mut child = Command::new("timeout")
        .args(["-s", "TERM", "1800", "docker-registry", "serve"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run docker-registry: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        // Behind htpasswd, /v2/ answers 401 over TLS the CA vouches for: then it is up.
        let probe = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(ca)
            .arg(format!("https://{addr}/v2/"))
            .output();
        if probe.is_ok_and(|o| o.stdout == b"401") {
            return Ok((addr, child));
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(&mut child);
    Err(fs::read_to_string(&log).unwrap_or_default())
}
