//! Registry authentication, the pure parts: `WWW-Authenticate` challenges, the token
//! endpoint's answer, and the per-(registry, scope) token cache. No HTTP here; `transport.rs`
//! sends the requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::secret::Secret;

/// What a registry asks for, as learnt from its `GET /v2/` answer (or a later 401).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `/v2/` answered 200: no credentials needed.
    Anonymous,
    /// HTTP Basic on every request.
    Basic,
    /// A token from `realm` (with `service`), sent as `Authorization: Bearer`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// One challenge of a `WWW-Authenticate` header: its scheme (lowercase) and parameters
/// (keys lowercase, values unquoted).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RawChallenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl RawChallenge {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The challenge refit follows among those offered: Bearer with a realm first, then Basic.
pub(crate) fn select_challenge<'a>(
    headers: impl IntoIterator<Item = &'a str>,
) -> Option<Challenge> {
    let raw: Vec<RawChallenge> = headers
        .into_iter()
        .flat_map(parse_www_authenticate)
        .collect();
    let bearer = raw.iter().find_map(|c| {
        let realm = c.param("realm").filter(|r| !r.is_empty())?;
        (c.scheme == "bearer").then(|| Challenge::Bearer {
            realm: realm.to_string(),
            service: c.param("service").map(str::to_string),
        })
    });
    bearer.or_else(|| {
        raw.iter()
            .any(|c| c.scheme == "basic")
            .then_some(Challenge::Basic)
    })
}

/// Parses a `WWW-Authenticate` value (RFC 9110 section 11.6.1): one or more challenges, each a
/// scheme followed by comma-separated `key=value` or `key="quoted, value"` parameters.
pub(crate) fn parse_www_authenticate(value: &str) -> Vec<RawChallenge> {
    let mut challenges: Vec<RawChallenge> = Vec::new();
    for item in split_top_level(value) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let eq = item.find('=');
        let space = item.find(char::is_whitespace);
        // "Scheme" or "Scheme key=value": a space before any '=' starts a new challenge.
        let starts_challenge = match (space, eq) {
            (_, None) => true,
            (Some(s), Some(e)) => s < e,
            (None, Some(_)) => false,
        };
        let param_text = if starts_challenge {
            let (scheme, rest) = item.split_at(space.unwrap_or(item.len()));
            challenges.push(RawChallenge {
                scheme: scheme.to_ascii_lowercase(),
                params: Vec::new(),
            });
            rest.trim()
        } else {
            item
        };
        if let (Some(current), Some((key, raw_value))) =
            (challenges.last_mut(), param_text.split_once('='))
        {
            let key = key.trim().to_ascii_lowercase();
            if !key.is_empty() {
                current.params.push((key, unquote(raw_value.trim())));
            }
        }
    }
    challenges
}

/// Splits at commas outside double quotes (a backslash escapes the next character in quotes).
fn split_top_level(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The scope a check needs: read access to one repository.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// How long a token is trusted when the token endpoint does not say (distribution's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A token endpoint's answer: the token and how long refit may reuse it.
pub(crate) fn parse_token_answer(body: &[u8]) -> Result<(Secret, Duration), String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
        expires_in: Option<u64>,
    }
    // The error text of serde_json names a position, never the token.
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("token answer is not JSON: {e}"))?;
    let token = answer
        .token
        .filter(|t| !t.is_empty())
        .or(answer.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| "token answer holds no token".to_string())?;
    let lifetime = answer
        .expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    Ok((Secret::new(token), reuse_window(lifetime)))
}

/// A token is reused for its lifetime minus a margin (10 %, at most 10 s), so it does not
/// expire between the cache lookup and the registry's check of it.
fn reuse_window(lifetime: Duration) -> Duration {
    lifetime - (lifetime / 10).min(Duration::from_secs(10))
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: Secret,
    pub valid_until: Instant,
}

/// One slot per (registry, scope). The slot's async lock is held while a token is fetched, so
/// concurrent lookups of one repository wait for one token request instead of sending several.
pub(crate) type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<(String, String), TokenSlot>>,
}

impl TokenCache {
    pub fn slot(&self, registry: &str, scope: &str) -> TokenSlot {
        // A poisoned lock only means another task panicked mid-insert; the map is still sound.
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .entry((registry.to_string(), scope.to_string()))
            .or_default()
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_bearer_challenge_with_quoted_commas() {
        let header = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push",error="insufficient_scope""#;
        let parsed = parse_www_authenticate(header);
        assert_eq!(parsed.len(), 1);
        let c = &parsed[0];
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/nginx:pull,push"));
        assert_eq!(c.param("error"), Some("insufficient_scope"));
        assert_eq!(
            select_challenge([header]),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
    }

    #[test]
    fn parses_several_challenges_spaces_and_escapes() {
        let header = r#"Basic realm="Registry \"Realm\"", BEARER realm = "https://ghcr.io/token" , service=ghcr.io"#;
        let parsed = parse_www_authenticate(header);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].scheme, "basic");
        assert_eq!(parsed[0].param("realm"), Some(r#"Registry "Realm""#));
        assert_eq!(parsed[1].scheme, "bearer");
        assert_eq!(parsed[1].param("realm"), Some("https://ghcr.io/token"));
        assert_eq!(parsed[1].param("service"), Some("ghcr.io"));
        // Bearer wins over Basic when both are offered.
        assert!(matches!(
            select_challenge([header]),
            Some(Challenge::Bearer { .. })
        ));
    }

    #[test]
    fn basic_and_unknown_challenges() {
        assert_eq!(
            select_challenge([r#"Basic realm="x""#]),
            Some(Challenge::Basic)
        );
        assert_eq!(select_challenge(["Basic"]), Some(Challenge::Basic));
        assert_eq!(select_challenge(["Negotiate"]), None);
        // A Bearer challenge without a realm cannot be followed.
        assert_eq!(select_challenge([r#"Bearer service="x""#]), None);
        assert_eq!(select_challenge([""]), None);
    }

    #[test]
    fn token_answer_lifetime_and_field_names() {
        let (token, reuse) =
            parse_token_answer(br#"{"token":"abc","expires_in":300}"#).expect("valid");
        assert_eq!(token.expose(), "abc");
        assert_eq!(reuse, Duration::from_secs(290));
        let (token, reuse) = parse_token_answer(br#"{"access_token":"xyz"}"#).expect("valid");
        assert_eq!(token.expose(), "xyz");
        assert_eq!(reuse, Duration::from_secs(54));
        assert!(parse_token_answer(br#"{"token":""}"#).is_err());
        let err = parse_token_answer(b"not json").unwrap_err();
        assert!(err.starts_with("token answer is not JSON"));
    }

    #[test]
    fn pull_scope_names_the_repository() {
        assert_eq!(pull_scope("library/nginx"), "repository:library/nginx:pull");
    }
}
