//! A scripted registry for tests: an HTTP/1.1 server on 127.0.0.1 that answers every request
//! from a closure and records the request line and headers. A real registry cannot be made to
//! answer 429, refuse HEAD or revoke a token on cue; this can.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as the stub saw it.
#[derive(Clone, Debug)]
pub struct StubRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lowercase.
    pub headers: Vec<(String, String)>,
}

impl StubRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// `METHOD /path` without the query.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path())
    }
}

pub struct StubResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl StubResponse {
    pub fn status(status: u16) -> StubResponse {
        StubResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok() -> StubResponse {
        StubResponse::status(200)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> StubResponse {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> StubResponse {
        self.body = body.into();
        self
    }
}

type Handler = dyn Fn(&StubRequest, &str) -> StubResponse + Send + Sync;

/// A running stub; stops when dropped.
pub struct Stub {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<StubRequest>>>,
    task: JoinHandle<()>,
}

impl Stub {
    /// Starts a stub answering with `handler(request, base_url)`.
    pub async fn start(
        handler: impl Fn(&StubRequest, &str) -> StubResponse + Send + Sync + 'static,
    ) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind stub");
        let addr = listener.local_addr().expect("stub address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let base = format!("http://{addr}");
        let task = tokio::spawn({
            let log = log.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, handler.clone(), log.clone(), base.clone()));
                }
            }
        });
        Stub { addr, log, task }
    }

    /// `127.0.0.1:<port>`, the registry host references name.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<StubRequest> {
        self.log.lock().expect("stub log").clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.requests().iter().map(StubRequest::line).collect()
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one keep-alive connection until the client closes it. Requests have no body
/// (refit only sends GET and HEAD).
async fn serve(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<StubRequest>>>,
    base: String,
) {
    let mut buffer = Vec::new();
    loop {
        let Some(end) = find_head_end(&buffer) else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end + 4);
        let Some(request) = parse_head(&head) else {
            return;
        };
        log.lock().expect("stub log").push(request.clone());
        let response = handler(&request, &base);
        if stream
            .write_all(&encode(&response, request.method == "HEAD"))
            .await
            .is_err()
        {
            return;
        }
    }
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|w| w == b"\r\n\r\n")
}

fn parse_head(head: &str) -> Option<StubRequest> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(StubRequest {
        method,
        target,
        headers,
    })
}

fn encode(response: &StubResponse, head_only: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} Stub\r\n", response.status);
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", response.body.len()));
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(&response.body);
    }
    bytes
}
