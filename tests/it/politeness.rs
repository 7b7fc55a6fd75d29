//! Politeness toward registries, through the real binary: a registry that answers 429 with
//! `Retry-After: 1` is waited for, not hammered or given up on; and Bearer tokens are asked for
//! once per repository within their lifetime, across the passes of one `refit run` daemon (tokens
//! live in memory: a `refit update` per pass starts with none, and persisting Bearer tokens on
//! disk would put a secret at rest for one request saved per repository and hour).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{CountingRegistry, ImageSpec, TestEnv, TokenAuth, wait_until};

const ENABLE: &str = "refit.enable=true";

/// A front for a registry: forwards every connection byte for byte, except that once `arm`ed,
/// the first request of the next connection is answered `429 Too Many Requests` with
/// `Retry-After: 1` instead (and the connection closed).
struct RateLimitFront {
    addr: String,
    armed: Arc<AtomicBool>,
    limited: Arc<AtomicU32>,
}

impl RateLimitFront {
    fn start(upstream: &str) -> RateLimitFront {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the front");
        let addr = listener.local_addr().unwrap().to_string();
        let armed = Arc::new(AtomicBool::new(false));
        let limited = Arc::new(AtomicU32::new(0));
        let (upstream, flag, count) = (upstream.to_owned(), armed.clone(), limited.clone());
        // The thread ends with the test process; each connection lives at most as long as refit's.
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, flag, count) = (upstream.clone(), flag.clone(), count.clone());
                thread::spawn(move || {
                    let _ = serve(client, &upstream, &flag, &count);
                });
            }
        });
        RateLimitFront {
            addr,
            armed,
            limited,
        }
    }

    fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// How many requests it answered 429.
    fn limited(&self) -> u32 {
        self.limited.load(Ordering::SeqCst)
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    armed: &AtomicBool,
    limited: &AtomicU32,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    // The engine tries TLS first with a loopback registry: a prompt close sends it to HTTP.
    let mut first = [0u8; 1];
    if client.peek(&mut first)? == 0 || first[0] == 0x16 {
        return Ok(());
    }
    let mut reader = BufReader::new(client.try_clone()?);
    // The request head, kept to be replayed upstream.
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" || line == b"\n" || head.len() > 64 * 1024 {
            break;
        }
    }
    if armed.swap(false, Ordering::SeqCst) {
        limited.fetch_add(1, Ordering::SeqCst);
        let answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\
                      Content-Length: 0\r\nConnection: close\r\n\r\n";
        return (&client).write_all(answer.as_bytes());
    }
    let server = TcpStream::connect(upstream)?;
    (&server).write_all(&head)?;
    // What the reader buffered past the head (a body) goes along too.
    (&server).write_all(reader.buffer())?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let (mut from_server, mut to_client) = (server, client);
    let up = thread::spawn(move || io::copy(&mut from_client, &mut to_server));
    io::copy(&mut from_server, &mut to_client)?;
    let _ = up.join();
    Ok(())
}

#[test]
fn a_429_with_retry_after_is_waited_out_and_the_update_goes_ahead() {
    let env = TestEnv::new("rate_limited");
    let upstream = CountingRegistry::start();
    let front = RateLimitFront::start(upstream.addr());
    let v1 = env.build_image_on(&front.addr, "app", "1", &ImageSpec::new().payload("v1"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version_on(&front.addr, "app", "1", &ImageSpec::new().payload("v2"));
    front.arm();

    let started = Instant::now();
    let run = env.refit(&["--log-level", "debug", "update", "--json"]);
    let took = started.elapsed();
    run.assert_code(0);
    assert_eq!(run.container(&web.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
    assert_eq!(front.limited(), 1, "the front said 429 once");
    assert!(
        took >= Duration::from_secs(1),
        "refit waited the Retry-After: {took:?}"
    );
    assert!(
        run.stderr.contains("registry asks to wait; retrying"),
        "{run}"
    );
}

#[test]
fn tokens_are_asked_for_once_per_repository_across_the_daemons_passes() {
    let env = TestEnv::new("token_cache");
    let registry = CountingRegistry::start_with_token_auth(TokenAuth {
        credentials: None,
        lifetime: Duration::from_secs(300),
    });
    let mut names = Vec::new();
    for n in 0..10 {
        let image = env.build_image_on(
            registry.addr(),
            &format!("app{n}"),
            "1",
            &ImageSpec::new().payload(&format!("v{n}")),
        );
        names.push(
            env.run(&format!("c{n}"), &["--label", ENABLE], &image.reference)
                .name,
        );
    }
    registry.reset();

    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_INTERVAL", "2s")
        .env("REFIT_SCHEDULE_UPDATE_ON_START", "true")
        .spawn();
    let counts = wait_until("two passes", Duration::from_secs(60), || {
        let counts = registry.counts();
        (counts.manifest_head >= 20).then_some(counts)
    });
    let run = daemon.stop(Duration::from_secs(30));
    run.assert_code(0);
    let after = registry.counts();
    assert_eq!(
        after.token, 10,
        "one token per repository, all in the first pass: {counts:?} then {after:?}\n{run}"
    );
    assert!(after.manifest_head >= 20, "{after:?}");
    assert_eq!(after.manifest_get, 0, "{after:?}");
    assert!(run.stderr.matches("pass finished").count() >= 2, "{run}");
    for name in names {
        assert!(
            !run.stderr
                .contains(&format!("container not updated container.name={name}")),
            "{run}"
        );
    }
}
