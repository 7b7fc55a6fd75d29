//! `Proxy`: a loopback TCP proxy a test can break on purpose, in front of the engine's unix
//! socket or a registry. `cut` closes every connection and refuses new ones (an engine that
//! went away, without restarting the real one, which other tests share); `drop_blobs` closes
//! connections that ask for a blob (a registry failing mid-pull). Stopped on drop.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Where a proxy forwards to.
#[derive(Clone, Debug)]
pub enum Upstream {
    Tcp(String),
    Unix(PathBuf),
}

impl Upstream {
    /// The engine the tests share.
    pub fn docker_socket() -> Upstream {
        Upstream::Unix(PathBuf::from("/var/run/docker.sock"))
    }
}

#[derive(Default)]
struct Switches {
    cut: AtomicBool,
    drop_blobs: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every live connection, to shut down on `cut`.
    live: Mutex<Vec<TcpStream>>,
}

pub struct Proxy {
    addr: String,
    switches: Arc<Switches>,
}

/// A stream of either kind, split into two owned halves.
trait Duplex: Read + Write + Send + 'static {
    fn split(&self) -> std::io::Result<Box<dyn Duplex>>;
    fn close(&self);
}

impl Duplex for TcpStream {
    fn split(&self) -> std::io::Result<Box<dyn Duplex>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Duplex for UnixStream {
    fn split(&self) -> std::io::Result<Box<dyn Duplex>> {
        Ok(Box::new(self.try_clone()?))
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Proxy {
    pub fn start(upstream: Upstream) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address").to_string();
        let switches = Arc::new(Switches::default());
        let shared = switches.clone();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.stopped.load(Ordering::SeqCst) {
                    return;
                }
                if shared.cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let upstream = upstream.clone();
                let shared = shared.clone();
                thread::spawn(move || serve(client, &upstream, &shared));
            }
        });
        Proxy { addr, switches }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Closes every connection and refuses new ones, until `restore`.
    pub fn cut(&self) {
        self.switches.cut.store(true, Ordering::SeqCst);
        for stream in self.switches.live.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.switches.cut.store(false, Ordering::SeqCst);
    }

    /// From now on, a connection that asks for a blob is closed instead of answered.
    pub fn drop_blobs(&self) {
        self.switches.drop_blobs.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.switches.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(client: TcpStream, upstream: &Upstream, switches: &Switches) {
    let server: Box<dyn Duplex> = match upstream {
        Upstream::Tcp(addr) => match TcpStream::connect(addr) {
            Ok(s) => Box::new(s),
            Err(_) => return,
        },
        Upstream::Unix(path) => match UnixStream::connect(path) {
            Ok(s) => Box::new(s),
            Err(_) => return,
        },
    };
    if let Ok(clone) = client.try_clone() {
        switches.live.lock().unwrap().push(clone);
    }
    let (Ok(mut server_write), Ok(mut client_write)) = (server.split(), client.try_clone()) else {
        return;
    };
    let mut server_read = server;
    let mut client_read = client;
    let back = thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Both);
    });
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if switches.cut.load(Ordering::SeqCst)
            || (switches.drop_blobs.load(Ordering::SeqCst) && asks_for_blob(&buffer[..n]))
        {
            break;
        }
        if server_write.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    server_write.close();
    let _ = client_read.shutdown(Shutdown::Both);
    let _ = back.join();
}

/// Whether a chunk from the client starts a request for a blob (`GET /v2/<name>/blobs/...`).
fn asks_for_blob(chunk: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&chunk[..chunk.len().min(512)]);
    let line = head.lines().next().unwrap_or_default();
    (line.starts_with("GET ") || line.starts_with("HEAD ")) && line.contains("/blobs/")
}
