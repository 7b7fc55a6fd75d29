//! What `OciRegistry` sends and how it reads the answers: one ping then one HEAD per image,
//! Retry-After honoured without a GET, HEAD fallback, errors, indexes and config digests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::super::manifest::fixtures::{image_manifest_body, index_body};
use super::super::manifest::sha256_digest;
use super::stub::{Stub, StubResponse};
use super::*;

#[tokio::test]
async fn anonymous_registry_costs_one_ping_then_one_head_per_image() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok().body("{}"),
        "/v2/app/manifests/1.0" => manifest_head(1),
        "/v2/team/other/manifests/latest" => manifest_head(2)
            .header("content-type", OCI_INDEX)
            .header("docker-content-digest", fixtures::digest(2)),
        _ => StubResponse::status(404),
    })
    .await;
    let registry = registry(options());

    let head = registry
        .head_manifest(&image(&stub, "app:1.0"))
        .await
        .expect("head");
    assert_eq!(head.digest.to_string(), fixtures::digest(1));
    assert_eq!(head.media_type, DOCKER_MANIFEST);
    assert!(!head.is_index());
    let after_first = counts(&registry, &stub);
    assert_eq!(
        (
            after_first.ping,
            after_first.manifest_head,
            after_first.total()
        ),
        (1, 1, 2)
    );

    registry
        .head_manifest(&image(&stub, "team/other"))
        .await
        .expect("head");
    let after_second = counts(&registry, &stub);
    assert_eq!(
        after_second.total() - after_first.total(),
        1,
        "one HEAD only"
    );
    assert_eq!(
        stub.lines(),
        [
            "GET /v2/",
            "HEAD /v2/app/manifests/1.0",
            "HEAD /v2/team/other/manifests/latest"
        ]
    );
    let accept = stub.requests()[1]
        .header("accept")
        .unwrap_or_default()
        .to_string();
    for media_type in [
        OCI_INDEX,
        DOCKER_MANIFEST,
        "application/vnd.oci.image.manifest.v1+json",
    ] {
        assert!(accept.contains(media_type), "{accept}");
    }
    assert!(
        stub.requests()
            .iter()
            .all(|r| r.header("authorization").is_none())
    );
}

#[tokio::test]
async fn concurrent_first_lookups_share_one_ping() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok(),
        _ => manifest_head(1),
    })
    .await;
    let registry = registry(options());
    let (a, b) = (image(&stub, "a"), image(&stub, "b"));
    let (ra, rb) = tokio::join!(registry.head_manifest(&a), registry.head_manifest(&b));
    ra.expect("a");
    rb.expect("b");
    let counts = counts(&registry, &stub);
    assert_eq!((counts.ping, counts.manifest_head), (1, 2));
}

#[tokio::test]
async fn rate_limit_is_waited_out_without_falling_back_to_get() {
    let heads = Arc::new(AtomicUsize::new(0));
    let stub = Stub::start({
        let heads = heads.clone();
        move |req, _| match req.path() {
            "/v2/" => StubResponse::ok(),
            _ if heads.fetch_add(1, Ordering::SeqCst) == 0 => {
                StubResponse::status(429).header("retry-after", "1")
            }
            _ => manifest_head(3),
        }
    })
    .await;
    let registry = registry(options());
    let started = tokio::time::Instant::now();
    let head = registry
        .head_manifest(&image(&stub, "app"))
        .await
        .expect("head");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(head.digest.to_string(), fixtures::digest(3));
    assert_eq!(
        stub.lines(),
        [
            "GET /v2/",
            "HEAD /v2/app/manifests/latest",
            "HEAD /v2/app/manifests/latest"
        ]
    );
    assert_eq!(counts(&registry, &stub).manifest_get, 0);
}

#[tokio::test]
async fn rate_limit_beyond_the_policy_is_an_error() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok(),
        "/v2/busy/manifests/latest" => StubResponse::status(429).header("retry-after", "0"),
        "/v2/later/manifests/latest" => StubResponse::status(503).header("retry-after", "3600"),
        _ => StubResponse::status(404),
    })
    .await;
    let registry = registry(options());

    let err = registry
        .head_manifest(&image(&stub, "busy"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { status: 429, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(
        counts(&registry, &stub).manifest_head,
        4,
        "first try and 3 retries"
    );

    let err = registry
        .head_manifest(&image(&stub, "later"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { status: 503, .. }),
        "{err:?}"
    );
    let c = counts(&registry, &stub);
    assert_eq!(
        (c.manifest_head, c.manifest_get),
        (5, 0),
        "an hour's wait is not attempted"
    );
}

#[tokio::test]
async fn refused_head_falls_back_to_get_and_hashes_the_body() {
    let stub = Stub::start(|req, _| match (req.method.as_str(), req.path()) {
        ("GET", "/v2/") => StubResponse::ok(),
        ("HEAD", _) if req.path().starts_with("/v2/nohead/") => StubResponse::status(405),
        // A HEAD that answers without Docker-Content-Digest.
        ("HEAD", _) => StubResponse::ok().header("content-type", OCI_INDEX),
        ("GET", _) => StubResponse::ok()
            .header("content-type", format!("{OCI_INDEX}; charset=utf-8"))
            .body(index_body()),
        _ => StubResponse::status(400),
    })
    .await;
    let registry = registry(options());
    let expected = sha256_digest(index_body().as_bytes());
    for repository in ["nohead", "nodigest"] {
        let head = registry
            .head_manifest(&image(&stub, repository))
            .await
            .expect("head via get");
        assert_eq!(head.digest, expected);
        assert_eq!(head.media_type, OCI_INDEX);
        assert!(head.is_index());
    }
    let c = counts(&registry, &stub);
    assert_eq!((c.manifest_head, c.manifest_get), (2, 2));
}

#[tokio::test]
async fn missing_manifest_is_not_found() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok(),
        _ => StubResponse::status(404).body(r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
    })
    .await;
    let registry = registry(options());
    let reference = image(&stub, "app:gone");
    let err = registry.head_manifest(&reference).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { reference: ref r } if *r == reference.to_string()),
        "{err:?}"
    );
    assert_eq!(counts(&registry, &stub).manifest_get, 0);
}

#[tokio::test]
async fn a_registry_not_allowed_gets_no_request() {
    let stub = Stub::start(|_, _| StubResponse::ok()).await;
    let registry = registry(RegistryOptions {
        allowed_registries: vec!["ghcr.io".into(), "index.docker.io".into()],
        ..options()
    });
    let reference = image(&stub, "app");
    assert!(matches!(
        registry.head_manifest(&reference).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        registry.index_entries(&reference).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(matches!(
        registry.config_digest(&reference).await,
        Err(Error::NotAllowed { .. })
    ));
    assert!(stub.requests().is_empty());
    assert!(registry.request_counts().is_empty());
    assert!(
        registry.is_allowed("docker.io"),
        "Docker Hub spellings are one registry"
    );
}

#[tokio::test]
async fn index_entries_and_config_digest_by_digest() {
    let index = index_body();
    let index_digest = sha256_digest(index.as_bytes());
    let stub = Stub::start(move |req, _| {
        if req.path() == "/v2/" {
            return StubResponse::ok();
        }
        let accept = req.header("accept").unwrap_or_default();
        if accept.contains(OCI_INDEX) {
            StubResponse::ok()
                .header("content-type", OCI_INDEX)
                .body(index.clone())
        } else {
            StubResponse::ok()
                .header("content-type", DOCKER_MANIFEST)
                .body(image_manifest_body())
        }
    })
    .await;
    let registry = registry(options());
    let reference = image(&stub, "app").at_digest(&index_digest);
    let entries = registry.index_entries(&reference).await.expect("entries");
    let platforms: Vec<String> = entries.iter().map(|e| e.platform.to_string()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
    assert_eq!(entries[1].digest.to_string(), fixtures::digest(2));

    let amd64 = image(&stub, "app").at_digest(&entries[0].digest);
    // The stub's manifest body does not hash to the fixture digest: refit notices.
    let err = registry.config_digest(&amd64).await.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    let by_tag = image(&stub, "app:1");
    let config = registry
        .config_digest(&by_tag)
        .await
        .expect("config digest");
    assert_eq!(config.to_string(), fixtures::digest(9));
    assert_eq!(counts(&registry, &stub).manifest_get, 3);
    assert_eq!(counts(&registry, &stub).manifest_head, 0);
}

#[tokio::test]
async fn an_unreachable_registry_is_retryable() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let registry = registry(options());
    let reference: ImageRef = format!("127.0.0.1:{port}/app").parse().expect("reference");
    let err = registry.head_manifest(&reference).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(
        registry.request_counts()[&format!("127.0.0.1:{port}")].ping,
        1
    );
}
