//! Listing a repository's tags (`GET /v2/<name>/tags/list`), page after page as the
//! `Link: <...>; rel="next"` header names them (distribution's pagination, which oci-client's
//! `list_tags` drops). Requests go through the transport, with its auth, retries and counts.

use std::collections::BTreeSet;

use reqwest::header::LINK;
use reqwest::{Method, StatusCode, Url};
use tracing::debug;

use super::endpoint;
use super::transport::{Host, Request, RequestKind, Transport, read_body};
use super::{Credentials, Error};
use crate::model::ImageRef;

/// One tag-list page; distribution sends every tag in one page (some 100,000 tags fit).
const TAG_PAGE_LIMIT: usize = 8 << 20;
/// Pages followed for one repository before refit gives up on a registry that never ends.
const MAX_TAG_PAGES: usize = 1000;

/// Every tag of `reference`'s repository, following `Link` pagination.
pub(super) async fn list(
    transport: &Transport,
    host: &Host,
    credentials: Option<&Credentials>,
    reference: &ImageRef,
) -> Result<Vec<String>, Error> {
    let protocol = |message: String| Error::Protocol {
        registry: host.registry.clone(),
        message: format!("{}: {message}", reference.name()),
    };
    let first = endpoint::tags_url(&host.base, reference);
    let mut url = Url::parse(&first).map_err(|e| protocol(format!("{first}: {e}")))?;
    let mut seen = BTreeSet::new();
    let mut tags = Vec::new();
    loop {
        if !seen.insert(url.to_string()) {
            return Err(protocol(format!("tag list pages loop back to {url}")));
        }
        if seen.len() > MAX_TAG_PAGES {
            return Err(protocol(format!(
                "tag list longer than {MAX_TAG_PAGES} pages"
            )));
        }
        let request = Request {
            kind: RequestKind::TagList,
            method: Method::GET,
            url: url.to_string(),
            accept: "application/json".into(),
            repository: reference.repository(),
        };
        let response = transport.send(host, credentials, &request).await?;
        if response.status() != StatusCode::OK {
            return Err(status_error(host, reference, response.status(), &url));
        }
        let links = response.headers().get_all(LINK);
        let next =
            next_page(links.iter().filter_map(|v| v.to_str().ok()), &url).map_err(protocol)?;
        let body = read_body(host, response, TAG_PAGE_LIMIT).await?;
        tags.extend(page_tags(&body).map_err(protocol)?);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    debug!(registry = %host.registry, repository = reference.repository(), tags = tags.len(), pages = seen.len(), "tags listed");
    Ok(tags)
}

/// The error for a tag-list answer that is neither success nor handled by the transport.
fn status_error(host: &Host, reference: &ImageRef, status: StatusCode, url: &Url) -> Error {
    super::oci::answer_error(
        host,
        status,
        reference.name(),
        reference.repository(),
        url.to_string(),
    )
}

/// One page's body. `tags` is `null` for a repository without tags on some registries.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The tags of one page.
pub(super) fn page_tags(body: &[u8]) -> Result<Vec<String>, String> {
    serde_json::from_slice::<Page>(body)
        .map(|page| page.tags.unwrap_or_default())
        .map_err(|e| format!("tag list is not the expected JSON: {e}"))
}

/// The URL of the next page: the `rel="next"` link among `links` (header values), resolved
/// against the page's own URL. A link to another origin is refused: the request would carry
/// this registry's credentials there.
pub(super) fn next_page<'a>(
    links: impl Iterator<Item = &'a str>,
    current: &Url,
) -> Result<Option<Url>, String> {
    let Some(target) = links
        .flat_map(link_targets)
        .find_map(|(url, next)| next.then_some(url))
    else {
        return Ok(None);
    };
    let next = current
        .join(target)
        .map_err(|e| format!("tag list names a next page {target:?} that is not a URL: {e}"))?;
    if next.origin() != current.origin() {
        return Err(format!(
            "tag list names a next page on another host ({}); refusing to follow it",
            next.origin().ascii_serialization()
        ));
    }
    Ok(Some(next))
}

/// Each `<url>; params` entry of one `Link` value, with whether its `rel` includes `next`.
/// Entries are split at `<`, not at commas, since a URL may hold a comma.
fn link_targets(value: &str) -> Vec<(&str, bool)> {
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else { break };
        let url = after[..close].trim();
        let params_end = after[close + 1..]
            .find('<')
            .map_or(after.len(), |i| close + 1 + i);
        let params = &after[close + 1..params_end];
        found.push((url, rel_is_next(params)));
        rest = &after[params_end..];
    }
    found
}

/// `; rel="next"`, `;rel=next`, `; rel="prev next"`, any case.
fn rel_is_next(params: &str) -> bool {
    params.split(';').any(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        name.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_end_matches(',')
                .trim()
                .trim_matches('"')
                .split_whitespace()
                .any(|rel| rel.eq_ignore_ascii_case("next"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    fn next(links: &[&str]) -> Result<Option<String>, String> {
        let current = url("http://127.0.0.1:5000/v2/app/tags/list?n=2");
        next_page(links.iter().copied(), &current).map(|u| u.map(|u| u.to_string()))
    }

    #[test]
    fn follows_the_next_link_in_the_forms_registries_send() {
        let want = Some("http://127.0.0.1:5000/v2/app/tags/list?n=2&last=b".to_string());
        for link in [
            r#"</v2/app/tags/list?n=2&last=b>; rel="next""#,
            r#"</v2/app/tags/list?n=2&last=b>;rel=next"#,
            r#"<http://127.0.0.1:5000/v2/app/tags/list?n=2&last=b>; rel="next""#,
            r#"</v2/app/tags/list?n=1&last=a>; rel="prev", </v2/app/tags/list?n=2&last=b>; rel="next""#,
            r#"</v2/app/tags/list?n=2&last=b>; title="x,y"; REL="prev Next""#,
        ] {
            assert_eq!(next(&[link]), Ok(want.clone()), "{link}");
        }
        assert_eq!(
            next(&[
                r#"</v2/x>; rel="prev""#,
                r#"</v2/app/tags/list?n=2&last=b>; rel="next""#
            ]),
            Ok(want)
        );
    }

    #[test]
    fn no_next_link_is_the_last_page() {
        assert_eq!(next(&[]), Ok(None));
        assert_eq!(
            next(&[r#"</v2/app/tags/list?last=a>; rel="prev""#]),
            Ok(None)
        );
        assert_eq!(next(&["garbage"]), Ok(None));
    }

    #[test]
    fn a_next_page_elsewhere_is_refused() {
        for link in [
            r#"<https://127.0.0.1:5000/v2/app/tags/list?last=b>; rel="next""#,
            r#"<http://evil.example/v2/app/tags/list?last=b>; rel="next""#,
            r#"<//evil.example/v2/app/tags/list>; rel="next""#,
        ] {
            let err = next(&[link]).unwrap_err();
            assert!(err.contains("another host"), "{link}: {err}");
        }
    }

    #[test]
    fn page_bodies() {
        assert_eq!(
            page_tags(br#"{"name":"app","tags":["1.0","1.1"]}"#),
            Ok(vec!["1.0".to_string(), "1.1".to_string()])
        );
        assert_eq!(page_tags(br#"{"name":"app","tags":null}"#), Ok(vec![]));
        assert_eq!(page_tags(br#"{"name":"app"}"#), Ok(vec![]));
        assert!(page_tags(b"<html>").is_err());
    }
}
