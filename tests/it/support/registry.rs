//! Registries for tests: a ping and a manifest delete for the shared one, and `CountingRegistry`, a
//! private `docker-registry` (distribution 2.8) per test whose access log tells what refit asked.

use std::collections::HashMap;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::http;
use super::token::{self, TokenAuth, TokenServer};

/// Path of the requests the harness sends to mark a point in the log; never counted.
const SYNC_PATH: &str = "/refit-harness-sync/";

/// Whether `GET /v2/` answers 200 at `addr`.
pub(super) fn answers(addr: &str) -> bool {
    matches!(http::request(addr, "GET", "/v2/", &[]), Ok(r) if r.status == 200)
}

/// The media types the harness accepts for a manifest: Docker v2 and OCI, images and indexes.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// The digest a registry answers for `HEAD /v2/<path>/manifests/<reference>`; `None` on 404.
/// Panics on any other answer.
pub fn manifest_digest(registry: &str, path: &str, reference: &str) -> Option<String> {
    let uri = format!("/v2/{path}/manifests/{reference}");
    let response = http::request(registry, "HEAD", &uri, &[("Accept", MANIFEST_TYPES)])
        .unwrap_or_else(|e| panic!("HEAD {registry}{uri}: {e}"));
    match response.status {
        200 => Some(
            response
                .header("docker-content-digest")
                .unwrap_or_else(|| panic!("HEAD {registry}{uri}: no Docker-Content-Digest"))
                .to_owned(),
        ),
        404 => None,
        status => panic!("HEAD {registry}{uri}: status {status}"),
    }
}

/// Best effort: deletes a manifest by digest (used on drop, so it never panics).
pub(super) fn delete_manifest(addr: &str, repository: &str, digest: &str) {
    let path = format!("/v2/{repository}/manifests/{digest}");
    match http::request(addr, "DELETE", &path, &[]) {
        Ok(r) if r.status == 202 || r.status == 404 => {}
        Ok(r) => eprintln!("DELETE {addr}{path}: status {}", r.status),
        Err(e) => eprintln!("DELETE {addr}{path}: {e}"),
    }
}

/// One line of the access log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    /// The request target as sent: path and query.
    pub uri: String,
    pub status: u16,
}

impl LoggedRequest {
    /// Parses distribution's access-log line (Apache combined format, from gorilla/handlers):
    /// `127.0.0.1 - - [03/Dec/2026:20:04:41 +0000] "HEAD /v2/x/y/manifests/1 HTTP/1.1" 404 96 "" "curl/7.88.1"`.
    /// Other lines (logrus's `time=... msg=...`) give `None`.
    pub fn parse(line: &str) -> Option<LoggedRequest> {
        let rest = &line[line.find("] \"")? + 3..];
        let (request, rest) = rest.split_once('"')?;
        let mut words = request.split(' ');
        let (method, uri, protocol) = (words.next()?, words.next()?, words.next()?);
        if !protocol.starts_with("HTTP/") {
            return None;
        }
        let status = rest.split_whitespace().next()?.parse().ok()?;
        Some(LoggedRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            status,
        })
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or(&self.uri)
    }
}

/// Requests by kind. `token` counts requests to a path ending in `/token` (distribution serves none
/// itself: it is non-zero only when a test points a token realm at this registry).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET /v2/` (also HEAD).
    pub ping: u32,
    pub token: u32,
    pub manifest_head: u32,
    pub manifest_get: u32,
    pub blob_head: u32,
    pub blob_get: u32,
    /// `GET /v2/<name>/tags/list`.
    pub tags_list: u32,
    /// Everything else: pushes (uploads, manifest PUT), deletes, catalog.
    pub other: u32,
}

impl RequestCounts {
    pub fn of(requests: &[LoggedRequest]) -> RequestCounts {
        let mut counts = RequestCounts::default();
        for request in requests {
            let path = request.path();
            let slot = match request.method.as_str() {
                _ if path.ends_with("/token") => &mut counts.token,
                "GET" | "HEAD" if path == "/v2/" || path == "/v2" => &mut counts.ping,
                "HEAD" if path.contains("/manifests/") => &mut counts.manifest_head,
                "GET" if path.contains("/manifests/") => &mut counts.manifest_get,
                "HEAD" if path.contains("/blobs/sha256:") => &mut counts.blob_head,
                "GET" if path.contains("/blobs/sha256:") => &mut counts.blob_get,
                "GET" if path.ends_with("/tags/list") => &mut counts.tags_list,
                _ => &mut counts.other,
            };
            *slot += 1;
        }
        counts
    }

    pub fn total(&self) -> u32 {
        let RequestCounts {
            ping,
            token,
            manifest_head,
            manifest_get,
            blob_head,
            blob_get,
            tags_list,
            other,
        } = *self;
        ping + token + manifest_head + manifest_get + blob_head + blob_get + tags_list + other
    }
}

/// Docker config dirs holding the credentials of token-auth counting registries, by address: the
/// harness pushes fixtures with them.
fn docker_configs() -> &'static Mutex<HashMap<String, PathBuf>> {
    static CONFIGS: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    CONFIGS.get_or_init(Mutex::default)
}

/// Has the harness push to `host` with the docker config dir `dir` (its credentials).
pub(super) fn register_docker_config(host: &str, dir: Option<PathBuf>) {
    let mut configs = docker_configs().lock().unwrap_or_else(|e| e.into_inner());
    match dir {
        Some(dir) => configs.insert(host.to_owned(), dir),
        None => configs.remove(host),
    };
}

/// The docker config dir (`docker --config`) to push to the registry `host`, if it needs one.
pub(super) fn docker_config_for(host: &str) -> Option<PathBuf> {
    docker_configs()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(host)
        .cloned()
}

/// A private distribution registry on a free loopback port, with its own storage and its access log
/// in a file; optionally behind token auth served by the harness. Counts start after `start` (and
/// after each `reset`); stopped on drop.
pub struct CountingRegistry {
    addr: String,
    dir: tempfile::TempDir,
    log: PathBuf,
    child: Child,
    /// Byte offset in the log where counting starts.
    start: AtomicU64,
    syncs: AtomicU32,
    token: Option<TokenServer>,
    /// Index in the token server's requests where counting starts.
    token_start: AtomicUsize,
    docker_config: Option<PathBuf>,
}

impl CountingRegistry {
    /// Starts an open registry (no auth) and waits until it answers. Panics with the log when it
    /// cannot.
    pub fn start() -> CountingRegistry {
        Self::start_with(None)
    }

    /// Starts a registry behind token auth (Docker's token protocol; the harness's own token server
    /// grants every scope asked, to anyone or to `auth.credentials` only). The harness pushes to it
    /// with `docker_config()`; token requests are counted as `token`.
    pub fn start_with_token_auth(auth: TokenAuth) -> CountingRegistry {
        Self::start_with(Some(auth))
    }

    fn start_with(auth: Option<TokenAuth>) -> CountingRegistry {
        let dir = tempfile::Builder::new()
            .prefix("refit-it-registry-")
            .tempdir()
            .expect("create the registry's temp dir");
        let credentials = auth.as_ref().and_then(|a| a.credentials.clone());
        let token = auth.map(|auth| TokenServer::start(dir.path(), auth));
        let mut last_log = String::new();
        // A free port can be taken between our probe and the registry's bind: try another.
        for _ in 0..3 {
            match Self::try_start(dir.path(), token.as_ref()) {
                Ok((addr, log, child)) => {
                    let docker_config = credentials.map(|(user, password)| {
                        let config = write_docker_config(dir.path(), &addr, &user, &password);
                        let mut configs =
                            docker_configs().lock().unwrap_or_else(|e| e.into_inner());
                        configs.insert(addr.clone(), config.clone());
                        config
                    });
                    let registry = CountingRegistry {
                        addr,
                        dir,
                        log,
                        child,
                        start: AtomicU64::new(0),
                        syncs: AtomicU32::new(0),
                        token,
                        token_start: AtomicUsize::new(0),
                        docker_config,
                    };
                    registry.reset();
                    return registry;
                }
                Err(log) => last_log = log,
            }
        }
        panic!(
            "the counting registry did not start (is docker-registry installed? scripts/test-env.sh):\n{last_log}"
        );
    }

    /// One attempt; on failure, the log.
    fn try_start(
        dir: &Path,
        token: Option<&TokenServer>,
    ) -> Result<(String, PathBuf, Child), String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join(format!("config-{port}.yml"));
        let yaml = config_yaml(&addr, &dir.join("data"), token);
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
            // Behind token auth, /v2/ answers 401: any HTTP answer means it is up.
            if http::request(&addr, "GET", "/v2/", &[]).is_ok() {
                return Ok((addr, log, child));
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop(&mut child);
        Err(fs::read_to_string(&log).unwrap_or_default())
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The token realm (`http://127.0.0.1:<port>/token`) when behind token auth.
    pub fn token_realm(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.realm.as_str())
    }

    /// A docker config dir (for `docker --config`, or refit's `DOCKER_CONFIG`) whose `config.json`
    /// holds this registry's credentials, when it has any.
    pub fn docker_config(&self) -> Option<&Path> {
        self.docker_config.as_deref()
    }

    /// The registry's storage directory.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Counts only requests from now on (call it after pushing the fixtures).
    pub fn reset(&self) {
        self.sync();
        let len = fs::metadata(&self.log).map_or(0, |m| m.len());
        self.start.store(len, Ordering::SeqCst);
        self.token_start
            .store(self.token_requests().len(), Ordering::SeqCst);
    }

    fn token_requests(&self) -> Vec<LoggedRequest> {
        self.token
            .as_ref()
            .map(|t| t.requests.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// The requests since the last reset: the registry's in log order, then the token server's.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.sync();
        let raw = fs::read(&self.log).expect("read the registry log");
        let start = (self.start.load(Ordering::SeqCst) as usize).min(raw.len());
        let mut requests: Vec<LoggedRequest> = String::from_utf8_lossy(&raw[start..])
            .lines()
            .filter_map(LoggedRequest::parse)
            .filter(|r| !r.uri.starts_with(SYNC_PATH))
            .collect();
        let tokens = self.token_requests();
        requests.extend_from_slice(
            &tokens[self.token_start.load(Ordering::SeqCst).min(tokens.len())..],
        );
        requests
    }

    /// The requests since the last reset, by kind.
    pub fn counts(&self) -> RequestCounts {
        RequestCounts::of(&self.requests())
    }

    /// Sends a marker request and waits until the log shows it: the registry writes an access-log
    /// line only after answering, so a client can be answered before its line is in the file.
    fn sync(&self) {
        let marker = format!("{SYNC_PATH}{}", self.syncs.fetch_add(1, Ordering::Relaxed));
        let _ = http::request(&self.addr, "GET", &marker, &[]);
        let needle = format!(" {marker} HTTP/");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if fs::read_to_string(&self.log).is_ok_and(|log| log.contains(&needle)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "the registry's access log ({}) never showed {marker}",
            self.log.display()
        );
    }
}

impl Drop for CountingRegistry {
    fn drop(&mut self) {
        stop(&mut self.child);
        if self.docker_config.is_some() {
            docker_configs()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.addr);
        }
    }
}

/// `<dir>/docker/config.json` with `auths` for `addr`; returns the dir.
pub(super) fn write_docker_config(dir: &Path, addr: &str, user: &str, password: &str) -> PathBuf {
    let config = dir.join("docker");
    fs::create_dir_all(&config).expect("create the docker config dir");
    let auth = token::base64(format!("{user}:{password}").as_bytes(), token::STANDARD);
    let json = serde_json::json!({ "auths": { addr: { "auth": auth } } });
    fs::write(config.join("config.json"), json.to_string()).expect("write the docker config");
    config
}

/// SIGTERM to `timeout`, which passes it on to the registry; SIGKILL if that does not end it.
pub(super) fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn config_yaml(addr: &str, storage: &Path, token: Option<&TokenServer>) -> String {
    let auth = token.map_or(String::new(), |t| {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            t.realm,
            token::SERVICE,
            token::ISSUER,
            t.cert.display()
        )
    });
    format!(
        "version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {}
  delete:
    enabled: true
http:
  addr: {addr}
  secret: refit-counting-registry
{auth}",
        storage.display()
    )
}

#[cfg(test)]
mod tests {
    use super::{LoggedRequest, RequestCounts};

    #[test]
    fn parses_access_log_lines_and_skips_others() {
        let line = r#"127.0.0.1 - - [03/Dec/2026:20:04:41 +0000] "HEAD /v2/x/y/manifests/1 HTTP/1.1" 404 96 "" "curl/7.88.1""#;
        let request = LoggedRequest::parse(line).expect("an access-log line");
        assert_eq!(request.method, "HEAD");
        assert_eq!(request.uri, "/v2/x/y/manifests/1");
        assert_eq!(request.status, 404);
        let logrus = r#"time="2026-12-03T20:04:41.86Z" level=info msg="response completed" http.request.method=GET http.request.uri=/v2/"#;
        assert_eq!(LoggedRequest::parse(logrus), None);
    }

    #[test]
    fn counts_by_kind() {
        let requests: Vec<LoggedRequest> = [
            ("GET", "/v2/"),
            ("HEAD", "/v2/a/b/manifests/1"),
            ("GET", "/v2/a/b/manifests/sha256:ab"),
            ("HEAD", "/v2/a/b/blobs/sha256:cd"),
            ("GET", "/v2/a/b/blobs/sha256:cd"),
            ("GET", "/v2/a/b/tags/list?n=10"),
            ("GET", "/token?scope=repository:a/b:pull"),
            ("PUT", "/v2/a/b/manifests/1"),
        ]
        .iter()
        .map(|(method, uri)| LoggedRequest {
            method: method.to_string(),
            uri: uri.to_string(),
            status: 200,
        })
        .collect();
        let counts = RequestCounts::of(&requests);
        let expected = RequestCounts {
            ping: 1,
            token: 1,
            manifest_head: 1,
            manifest_get: 1,
            blob_head: 1,
            blob_get: 1,
            tags_list: 1,
            other: 1,
        };
        assert_eq!(counts, expected);
        assert_eq!(counts.total(), 8);
    }
}
