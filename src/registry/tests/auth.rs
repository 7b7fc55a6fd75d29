//! Authentication flows against the stub: Bearer tokens (cached, renewed, refused), Basic
//! from settings, credentials from Docker's config.json, and no secret in the logs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stub::{Stub, StubRequest, StubResponse};
use super::*;
use crate::secret::Secret;

/// A token service: `/token` issues `tok-<generation>`; manifests accept only the current
/// generation's token, so bumping `generation` revokes the token the client holds.
fn bearer_stub_handler(
    generation: Arc<AtomicUsize>,
) -> impl Fn(&StubRequest, &str) -> StubResponse + Send + Sync + 'static {
    move |req, base| {
        let current = format!("Bearer tok-{}", generation.load(Ordering::SeqCst));
        let challenge = format!(r#"Bearer realm="{base}/token",service="stub.test""#);
        match req.path() {
            "/token" => StubResponse::ok().body(format!(
                r#"{{"token":"tok-{}","expires_in":300}}"#,
                generation.load(Ordering::SeqCst)
            )),
            "/v2/" => StubResponse::status(401).header("www-authenticate", challenge),
            "/v2/private/manifests/latest" => StubResponse::status(401).header(
                "www-authenticate",
                format!(
                    r#"{challenge},scope="repository:private:pull",error="insufficient_scope""#
                ),
            ),
            _ if req.header("authorization") == Some(current.as_str()) => manifest_head(5),
            _ => StubResponse::status(401).header("www-authenticate", challenge),
        }
    }
}

#[tokio::test]
async fn bearer_token_is_cached_for_its_lifetime_and_renewed_after_401() {
    let generation = Arc::new(AtomicUsize::new(1));
    let stub = Stub::start(bearer_stub_handler(generation.clone())).await;
    let registry = registry(options());

    registry
        .head_manifest(&image(&stub, "app:1"))
        .await
        .expect("first");
    registry
        .head_manifest(&image(&stub, "app:2"))
        .await
        .expect("second");
    let c = counts(&registry, &stub);
    assert_eq!(
        (c.ping, c.token, c.manifest_head),
        (1, 1, 2),
        "token reused"
    );

    let token_request = &stub.requests()[1];
    assert_eq!(token_request.path(), "/token");
    assert!(
        token_request
            .target
            .contains("scope=repository%3Aapp%3Apull"),
        "{}",
        token_request.target
    );
    assert!(token_request.target.contains("service=stub.test"));
    assert_eq!(
        token_request.header("authorization"),
        None,
        "anonymous token"
    );
    assert_eq!(
        stub.requests()[2].header("authorization"),
        Some("Bearer tok-1")
    );

    generation.store(2, Ordering::SeqCst); // the registry revokes tok-1
    registry
        .head_manifest(&image(&stub, "app:3"))
        .await
        .expect("after revocation");
    let c = counts(&registry, &stub);
    assert_eq!((c.ping, c.token, c.manifest_head), (1, 2, 4));
    assert_eq!(
        stub.lines()[4..],
        [
            "HEAD /v2/app/manifests/3",
            "GET /token",
            "HEAD /v2/app/manifests/3"
        ]
    );
    assert!(
        stub.lines().iter().all(|l| !l.starts_with("GET /v2/app")),
        "no GET"
    );
}

#[tokio::test]
async fn an_expired_token_is_not_reused() {
    let stub = Stub::start(|req, base| match req.path() {
        "/v2/" => StubResponse::status(401).header(
            "www-authenticate",
            format!(r#"Bearer realm="{base}/token",service="stub.test""#),
        ),
        // Reused for 0.9 s (lifetime minus 10 %).
        "/token" => StubResponse::ok().body(r#"{"token":"short","expires_in":1}"#),
        _ => manifest_head(6),
    })
    .await;
    let registry = registry(options());
    registry
        .head_manifest(&image(&stub, "app:1"))
        .await
        .expect("first");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    registry
        .head_manifest(&image(&stub, "app:2"))
        .await
        .expect("second");
    let c = counts(&registry, &stub);
    assert_eq!((c.ping, c.token, c.manifest_head), (1, 2, 2));
}

#[tokio::test]
async fn an_open_v2_with_a_protected_repository_learns_the_challenge() {
    let stub = Stub::start(
        |req, base| match (req.path(), req.header("authorization")) {
            ("/v2/", _) => StubResponse::ok(),
            ("/token", _) => StubResponse::ok().body(r#"{"token":"tok-open"}"#),
            (_, Some("Bearer tok-open")) => manifest_head(8),
            _ => StubResponse::status(401).header(
                "www-authenticate",
                format!(r#"Bearer realm="{base}/token",service="stub.test""#),
            ),
        },
    )
    .await;
    let registry = registry(options());
    registry
        .head_manifest(&image(&stub, "app:1"))
        .await
        .expect("first");
    registry
        .head_manifest(&image(&stub, "app:2"))
        .await
        .expect("second");
    assert_eq!(
        stub.lines(),
        [
            "GET /v2/",
            "HEAD /v2/app/manifests/1",
            "GET /token",
            "HEAD /v2/app/manifests/1",
            "HEAD /v2/app/manifests/2",
        ]
    );
}

#[tokio::test]
async fn a_fresh_token_that_is_refused_is_unauthorized_without_more_requests() {
    let stub = Stub::start(bearer_stub_handler(Arc::new(AtomicUsize::new(1)))).await;
    let registry = registry(options());
    let err = registry
        .head_manifest(&image(&stub, "private"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { ref repository, .. } if repository == "private"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let c = counts(&registry, &stub);
    assert_eq!((c.ping, c.token, c.manifest_head), (1, 1, 1));
}

#[tokio::test]
async fn concurrent_lookups_of_one_repository_share_one_token() {
    let stub = Stub::start(bearer_stub_handler(Arc::new(AtomicUsize::new(1)))).await;
    let registry = registry(options());
    let (a, b) = (image(&stub, "app:a"), image(&stub, "app:b"));
    let (ra, rb) = tokio::join!(registry.head_manifest(&a), registry.head_manifest(&b));
    ra.expect("a");
    rb.expect("b");
    assert_eq!(counts(&registry, &stub).token, 1);
}

/// A Basic-auth registry accepting only alice:s3cret.
async fn basic_stub() -> Stub {
    Stub::start(|req, _| {
        let challenge = r#"Basic realm="stub""#;
        match (req.path(), req.header("authorization")) {
            (_, Some(ALICE_BASIC)) if req.path() != "/v2/" => manifest_head(7),
            _ => StubResponse::status(401).header("www-authenticate", challenge),
        }
    })
    .await
}

fn settings_for(stub: &Stub, password: &str) -> RegistryOptions {
    let mut options = options();
    options.registries.insert(
        stub.host(),
        RegistrySettings {
            username: Some("alice".into()),
            password: Some(Secret::new(password)),
            ..RegistrySettings::default()
        },
    );
    options
}

#[tokio::test]
async fn basic_auth_from_settings_goes_on_every_request() {
    let stub = basic_stub().await;
    let registry = registry(settings_for(&stub, "s3cret"));
    registry
        .head_manifest(&image(&stub, "app:1"))
        .await
        .expect("first");
    registry
        .head_manifest(&image(&stub, "app:2"))
        .await
        .expect("second");
    let manifests: Vec<StubRequest> = stub.requests().into_iter().filter(is_manifest).collect();
    assert_eq!(manifests.len(), 2);
    assert!(
        manifests
            .iter()
            .all(|r| r.header("authorization") == Some(ALICE_BASIC))
    );
    assert_eq!(counts(&registry, &stub).total(), 3);

    let creds = registry
        .credentials(&stub.host())
        .await
        .expect("credentials");
    assert_eq!(
        (creds.username.as_str(), creds.password.expose()),
        ("alice", "s3cret")
    );
    assert_eq!(creds.server, stub.host());
}

#[tokio::test]
async fn wrong_basic_password_is_unauthorized_and_never_shown() {
    let stub = basic_stub().await;
    let registry = registry(settings_for(&stub, "wrong-pass"));
    let err = registry
        .head_manifest(&image(&stub, "app"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("wrong-pass"));
    let creds = registry
        .credentials(&stub.host())
        .await
        .expect("credentials");
    assert!(!format!("{creds:?}").contains("wrong-pass"));
}

#[tokio::test]
async fn credentials_from_docker_config_auths() {
    let stub = basic_stub().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!(
        r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6czNjcmV0"}}}}}}"#,
        stub.host()
    );
    std::fs::write(dir.path().join("config.json"), config).expect("write config");
    let registry = registry(RegistryOptions {
        docker_config_dir: Some(dir.path().to_path_buf()),
        ..options()
    });
    registry
        .head_manifest(&image(&stub, "app"))
        .await
        .expect("head");
    let head = stub
        .requests()
        .into_iter()
        .find(is_manifest)
        .expect("a HEAD");
    assert_eq!(head.header("authorization"), Some(ALICE_BASIC));
    let creds = registry
        .credentials(&stub.host())
        .await
        .expect("credentials");
    assert_eq!(creds.username, "alice");
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a Basic and a Bearer lookup with credentials, both needing every secret kind.
async fn secret_heavy_lookups() {
    let basic = basic_stub().await;
    let bearer = Stub::start(bearer_stub_handler(Arc::new(AtomicUsize::new(1)))).await;
    let mut options = settings_for(&basic, "s3cret");
    options.registries.insert(
        bearer.host(),
        RegistrySettings {
            username: Some("alice".into()),
            password: Some(Secret::new("s3cret")),
            ..RegistrySettings::default()
        },
    );
    let registry = registry(options);
    registry
        .head_manifest(&image(&basic, "app"))
        .await
        .expect("basic");
    registry
        .head_manifest(&image(&bearer, "app"))
        .await
        .expect("bearer");
    let token_request = bearer.requests().into_iter().find(|r| r.path() == "/token");
    let token_auth = token_request
        .as_ref()
        .and_then(|r| r.header("authorization"));
    assert_eq!(
        token_auth,
        Some(ALICE_BASIC),
        "credentials sent to the realm"
    );
}

#[tokio::test]
async fn debug_logs_carry_no_secret() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Tests on other threads register the same callsites without this subscriber; a first
    // run registers them all, then the interest cache is rebuilt so the second run is seen.
    secret_heavy_lookups().await;
    tracing::callsite::rebuild_interest_cache();
    captured.0.lock().expect("log buffer").clear();
    secret_heavy_lookups().await;

    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    for message in [
        "registry pinged",
        "registry answered",
        "token endpoint answered",
    ] {
        assert!(logs.contains(message), "{message:?} not captured: {logs}");
    }
    for secret in ["s3cret", "YWxpY2U6czNjcmV0", "tok-1"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}
