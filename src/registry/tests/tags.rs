//! Tag lists against the stub, which paginates as distribution 3 and Docker Hub do (a real
//! distribution 2.8 ignores `n` and `last` and sends one page): every page followed, each
//! counted as a tag-list request, authorized with the one cached token, retried after 429.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::stub::{Stub, StubRequest, StubResponse};
use super::*;

/// The value of query parameter `name` in `target`.
fn query<'a>(request: &'a StubRequest, name: &str) -> Option<&'a str> {
    let (_, query) = request.target.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A page of `all` after the `last` query parameter, two tags a page, with a `Link` to the
/// next page: relative, or absolute on the stub's own base when `absolute`.
fn page(all: &[&str], request: &StubRequest, base: &str, absolute: bool) -> StubResponse {
    let start = query(request, "last")
        .and_then(|last| all.iter().position(|t| *t == last))
        .map_or(0, |i| i + 1);
    let tags: Vec<&str> = all.iter().skip(start).take(2).copied().collect();
    let body = serde_json::json!({ "name": "app", "tags": tags }).to_string();
    let mut response = StubResponse::ok()
        .header("content-type", "application/json")
        .body(body);
    if start + 2 < all.len() {
        let origin = if absolute { base } else { "" };
        let last = tags.last().copied().unwrap_or_default();
        response = response.header(
            "link",
            format!(r#"<{origin}/v2/app/tags/list?n=2&last={last}>; rel="next""#),
        );
    }
    response
}

const TAGS: [&str; 5] = ["1.0", "1.1", "1.2", "2.0", "latest"];

#[tokio::test]
async fn every_page_is_followed_and_counted() {
    for absolute in [false, true] {
        let stub = Stub::start(move |req, base| match req.path() {
            "/v2/" => StubResponse::ok(),
            "/v2/app/tags/list" => page(&TAGS, req, base, absolute),
            _ => StubResponse::status(404),
        })
        .await;
        let registry = registry(options());
        let tags = registry
            .list_tags(&image(&stub, "app:1.0"))
            .await
            .expect("tags");
        assert_eq!(tags, TAGS, "absolute links: {absolute}");
        let c = counts(&registry, &stub);
        assert_eq!((c.ping, c.tag_list, c.total()), (1, 3, 4));
        assert_eq!(RequestKind::TagList.as_str(), "tag_list");
        assert_eq!(c.of(RequestKind::TagList), 3);
        let targets: Vec<String> = stub.requests().iter().map(|r| r.target.clone()).collect();
        assert_eq!(
            targets,
            [
                "/v2/",
                "/v2/app/tags/list",
                "/v2/app/tags/list?n=2&last=1.1",
                "/v2/app/tags/list?n=2&last=2.0",
            ]
        );
    }
}

#[tokio::test]
async fn pages_share_one_token_and_a_429_is_waited_out() {
    let throttled = Arc::new(AtomicUsize::new(0));
    let stub = Stub::start({
        let throttled = throttled.clone();
        move |req, base| {
            let challenge = format!(r#"Bearer realm="{base}/token",service="stub.test""#);
            match req.path() {
                "/token" => StubResponse::ok().body(r#"{"token":"tok","expires_in":300}"#),
                _ if req.header("authorization") != Some("Bearer tok") => {
                    StubResponse::status(401).header("www-authenticate", challenge)
                }
                "/v2/app/tags/list"
                    if query(req, "last") == Some("1.1")
                        && throttled.fetch_add(1, Ordering::SeqCst) == 0 =>
                {
                    StubResponse::status(429).header("retry-after", "0")
                }
                "/v2/app/tags/list" => page(&TAGS, req, base, false),
                _ => StubResponse::status(404),
            }
        }
    })
    .await;
    let registry = registry(options());
    let tags = registry
        .list_tags(&image(&stub, "app"))
        .await
        .expect("tags");
    assert_eq!(tags, TAGS);
    let c = counts(&registry, &stub);
    assert_eq!(
        (c.ping, c.token, c.tag_list),
        (1, 1, 4),
        "one token for all pages; the throttled page sent twice"
    );
    let token = stub
        .requests()
        .into_iter()
        .find(|r| r.path() == "/token")
        .expect("a token request");
    assert!(
        token.target.contains("scope=repository%3Aapp%3Apull"),
        "{}",
        token.target
    );
}

#[tokio::test]
async fn a_next_page_on_another_host_or_in_a_loop_is_an_error() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok(),
        "/v2/away/tags/list" => StubResponse::ok().body(r#"{"tags":["1"]}"#).header(
            "link",
            r#"<http://evil.example/v2/away/tags/list>; rel="next""#,
        ),
        "/v2/loop/tags/list" => StubResponse::ok()
            .body(r#"{"tags":["1"]}"#)
            .header("link", r#"</v2/loop/tags/list?last=1>; rel="next""#),
        _ => StubResponse::status(404),
    })
    .await;
    let registry = registry(options());
    let away = registry.list_tags(&image(&stub, "away")).await.unwrap_err();
    assert!(matches!(away, Error::Protocol { .. }), "{away}");
    assert!(away.to_string().contains("another host"), "{away}");
    assert!(
        stub.requests().iter().all(|r| !r.target.contains("evil")),
        "nothing sent elsewhere"
    );
    let looping = registry.list_tags(&image(&stub, "loop")).await.unwrap_err();
    assert!(looping.to_string().contains("loop back"), "{looping}");
    assert_eq!(counts(&registry, &stub).tag_list, 3);
}

#[tokio::test]
async fn answers_that_are_not_a_tag_list() {
    let stub = Stub::start(|req, _| match req.path() {
        "/v2/" => StubResponse::ok(),
        "/v2/empty/tags/list" => StubResponse::ok().body(r#"{"name":"empty","tags":null}"#),
        "/v2/html/tags/list" => StubResponse::ok().body("<html>"),
        "/v2/denied/tags/list" => StubResponse::status(403),
        "/v2/broken/tags/list" => StubResponse::status(500),
        _ => StubResponse::status(404),
    })
    .await;
    let registry = registry(options());
    let list = |name: &'static str| {
        let reference = image(&stub, name);
        let registry = &registry;
        async move { registry.list_tags(&reference).await }
    };
    assert_eq!(list("empty").await.expect("empty"), Vec::<String>::new());
    assert!(matches!(list("html").await, Err(Error::Protocol { .. })));
    assert!(matches!(
        list("denied").await,
        Err(Error::Unauthorized { .. })
    ));
    let broken = list("broken").await.unwrap_err();
    assert!(broken.is_retryable(), "{broken}");
    let missing = list("missing").await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        format!("{}/missing not found in the registry", stub.host())
    );
}

#[tokio::test]
async fn a_registry_not_allowed_is_not_asked() {
    let stub = Stub::start(|_, _| StubResponse::ok()).await;
    let registry = registry(RegistryOptions {
        allowed_registries: vec!["ghcr.io".into()],
        ..options()
    });
    let err = registry.list_tags(&image(&stub, "app")).await.unwrap_err();
    assert!(matches!(err, Error::NotAllowed { .. }), "{err}");
    assert!(stub.requests().is_empty());
}
