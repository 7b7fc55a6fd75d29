//! Loopback stand-ins for what refit talks to besides Docker and the registry: an HTTP
//! catcher that records every request (the notifiers' webhooks), a minimal SMTP sink speaking
//! just enough of the protocol for lettre without TLS, and a client for refit's own API with
//! a timeout long enough for a pass. All bind 127.0.0.1 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the catcher received.
#[derive(Clone, Debug)]
pub struct Caught {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Caught {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server on a loopback port answering 200 to everything, keeping what it got.
pub struct HttpCatcher {
    addr: String,
    caught: Arc<Mutex<Vec<Caught>>>,
}

impl HttpCatcher {
    pub fn start() -> HttpCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the catcher");
        let addr = listener.local_addr().expect("catcher address").to_string();
        let caught = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&caught);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || {
                    if let Some(request) = read_request(stream) {
                        sink.lock().unwrap().push(request);
                    }
                });
            }
        });
        HttpCatcher { addr, caught }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn caught(&self) -> Vec<Caught> {
        self.caught.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (or `timeout`), and returns all of them.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Caught> {
        let deadline = Instant::now() + timeout;
        while self.caught().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.caught()
    }
}

fn read_request(stream: TcpStream) -> Option<Caught> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    Some(Caught {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// One mail the SMTP sink accepted.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA as sent: headers, blank line, body.
    pub data: String,
}

/// A minimal SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH.
pub struct SmtpSink {
    addr: String,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the smtp sink");
        let addr = listener.local_addr().expect("sink address").to_string();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&mails);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, &sink);
                });
            }
        });
        SmtpSink { addr, mails }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        while self.mails.lock().unwrap().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.mails.lock().unwrap().clone()
    }
}

fn smtp_session(stream: TcpStream, sink: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink.test\r\n",
            "MAIL" => {
                from = command.clone();
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(command.clone());
                b"250 OK\r\n"
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 || line == ".\r\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                sink.lock().unwrap().push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 OK queued\r\n"
            }
            "RSET" | "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        out.write_all(reply)?;
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

/// A call to refit's API: status and body. `token` goes in `Authorization: Bearer`.
pub fn api_call(addr: &str, method: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(90)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    if let Some(auth) = auth {
        head.push_str(&format!("Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// Waits until refit's API answers `/healthz`.
pub fn wait_for_api(addr: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() && api_call(addr, "GET", "/healthz", None).0 == 200 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("refit's API did not come up at {addr} within {timeout:?}");
}

/// One sample: name, labels as written, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// Samples of a Prometheus text exposition: (name, labels sorted as written, value). A
/// small parser, enough for what refit writes: no escapes in label values, no timestamps.
pub fn parse_metrics(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value.parse().expect("a numeric value");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let labels = rest
                        .trim_end_matches('}')
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
                None => (series.to_string(), Vec::new()),
            };
            (name, labels, value)
        })
        .collect()
}

/// The value of the sample `name` whose labels include every one of `labels`.
pub fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| *v)
}
