//! Reading tag-list pages (`GET /v2/<name>/tags/list`): the JSON body, and the next page as the
//! `Link: <...>; rel="next"` header names it (distribution's pagination, which oci-client's
//! `list_tags` drops). No requests are sent here; `oci.rs` walks the pages.

use reqwest::Url;

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
