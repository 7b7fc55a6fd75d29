//! A token server for `CountingRegistry::start_with_token_auth`: the Docker registry token protocol
//! (`GET /token?service=..&scope=..` answered with a JWT the registry verifies), served from a thread
//! of the test process. It grants every scope asked for, to anyone or only to one user (HTTP Basic),
//! and records each request so that tokens can be counted. Keys come from the `openssl` command.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::registry::LoggedRequest;

pub(super) const SERVICE: &str = "refit-test-registry";
pub(super) const ISSUER: &str = "refit-test-token-server";

/// The token server's settings.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    /// `Some((user, password))`: only requests with these Basic credentials get a token.
    pub credentials: Option<(String, String)>,
    /// The `expires_in` of each token (the registry rejects it after that).
    pub lifetime: Duration,
}

impl Default for TokenAuth {
    fn default() -> Self {
        TokenAuth {
            credentials: None,
            lifetime: Duration::from_secs(300),
        }
    }
}

pub(super) struct TokenServer {
    pub realm: String,
    /// The certificate the registry trusts (`auth.token.rootcertbundle`).
    pub cert: PathBuf,
    pub requests: Arc<Mutex<Vec<LoggedRequest>>>,
    stop: Arc<AtomicBool>,
    addr: String,
    thread: Option<JoinHandle<()>>,
}

struct Signer {
    key: PathBuf,
    /// The certificate, DER in standard base64: the JWT's `x5c`.
    x5c: String,
}

impl TokenServer {
    /// Makes a key pair in `dir` and starts serving on a free loopback port.
    pub fn start(dir: &Path, auth: TokenAuth) -> TokenServer {
        let key = dir.join("token-key.pem");
        let cert = dir.join("token-cert.pem");
        let output = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=refit-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl req failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let pem = fs::read_to_string(&cert).expect("read the token certificate");
        let x5c: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let signer = Signer { key, x5c };

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token server");
        let addr = listener
            .local_addr()
            .expect("token server address")
            .to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &signer, &auth, &requests);
                    }
                }
            })
        };
        TokenServer {
            realm: format!("http://{addr}/token"),
            cert,
            requests,
            stop,
            addr,
            thread: Some(thread),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request (one per connection: `Connection: close`).
fn serve(
    stream: TcpStream,
    signer: &Signer,
    auth: &TokenAuth,
    requests: &Mutex<Vec<LoggedRequest>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_or(true, |n| n == 0) || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let mut words = request_line.split_whitespace();
    let (method, uri) = (
        words.next().unwrap_or("").to_owned(),
        words.next().unwrap_or("").to_owned(),
    );
    let (status, body) = answer(&uri, authorization.as_deref(), signer, auth);
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(LoggedRequest {
            method,
            uri,
            status,
        });
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = (&stream).write_all(response.as_bytes());
}

fn answer(
    uri: &str,
    authorization: Option<&str>,
    signer: &Signer,
    auth: &TokenAuth,
) -> (u16, String) {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    if path != "/token" {
        return (404, r#"{"error":"not found"}"#.to_owned());
    }
    let mut subject = String::new();
    if let Some((user, password)) = &auth.credentials {
        let expected = format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes(), STANDARD)
        );
        if authorization != Some(expected.as_str()) {
            return (
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.to_owned(),
            );
        }
        subject = user.clone();
    }
    let scopes = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .map(percent_decode)
        .flat_map(|scope| scope.split(' ').map(str::to_owned).collect::<Vec<_>>());
    let access: Vec<_> = scopes
        .filter_map(|scope| {
            // `repository:<name>:<actions>`; the name holds no colon but a port would: split from both ends.
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let lifetime = auth.lifetime.as_secs().max(1);
    let claims = json!({
        "iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + lifetime, "nbf": now - 10,
        "iat": now, "jti": format!("{now}-{}", std::process::id()), "access": access,
    });
    match jwt(&claims, signer) {
        Ok(token) => (
            200,
            json!({ "token": token, "access_token": token, "expires_in": lifetime }).to_string(),
        ),
        Err(e) => (500, json!({ "error": e }).to_string()),
    }
}

/// A JWT signed RS256 by `openssl dgst`, its certificate in the header (`x5c`) for the registry to
/// check against its root bundle.
fn jwt(claims: &serde_json::Value, signer: &Signer) -> Result<String, String> {
    let header = json!({ "typ": "JWT", "alg": "RS256", "x5c": [signer.x5c] });
    let signing_input = format!(
        "{}.{}",
        base64(header.to_string().as_bytes(), URL_SAFE),
        base64(claims.to_string().as_bytes(), URL_SAFE)
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(&signer.key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("openssl: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(signing_input.as_bytes())
        .map_err(|e| format!("openssl: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("openssl: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(format!(
        "{signing_input}.{}",
        base64(&output.stdout, URL_SAFE)
    ))
}

pub(super) const STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with `alphabet`: padded for the standard one, unpadded for the URL-safe one (as JWTs are).
pub(super) fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if alphabet == STANDARD {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a space in a query).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{STANDARD, URL_SAFE, base64, percent_decode};

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(base64(b"user:pass", STANDARD), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab", STANDARD), "YWI=");
        assert_eq!(base64(b"a", STANDARD), "YQ==");
        assert_eq!(base64(&[0xfb, 0xff], URL_SAFE), "-_8");
    }

    #[test]
    fn percent_decoding_of_scopes() {
        assert_eq!(
            percent_decode("repository%3Aa%2Fb%3Apull%2Cpush"),
            "repository:a/b:pull,push"
        );
        assert_eq!(percent_decode("a+b%"), "a b%");
    }
}
