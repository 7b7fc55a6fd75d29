//! Docker API version negotiation, kept pure so both ends of the supported range are
//! unit-tested: Engine 20.10 answers API 1.41, Docker 29 answers 1.52 with a minimum of 1.44.

use std::fmt;

/// An API version `major.minor`, ordered numerically (1.9 < 1.41).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    pub const fn new(major: u32, minor: u32) -> ApiVersion {
        ApiVersion { major, minor }
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (major, minor) = s.trim().split_once('.')?;
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The oldest API refit supports: Docker Engine 20.10.
pub const OLDEST_SUPPORTED: ApiVersion = ApiVersion::new(1, 41);
/// The newest API refit's client (bollard's generated models) knows.
pub const NEWEST_KNOWN: ApiVersion = ApiVersion::new(1, 53);
/// From this version on `POST /containers/{id}/stop` takes a `signal`.
pub const STOP_SIGNAL: ApiVersion = ApiVersion::new(1, 42);
/// From this version on the engine accepts every network endpoint at create.
pub const MULTI_ENDPOINT_CREATE: ApiVersion = ApiVersion::new(1, 44);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("the engine did not report its API version")]
    Missing,
    #[error("the engine reported an API version refit cannot read: {0:?}")]
    Unreadable(String),
    #[error(
        "the engine speaks API {server}; refit needs at least {OLDEST_SUPPORTED} (Docker 20.10)"
    )]
    TooOld { server: ApiVersion },
    #[error("the engine requires API {minimum} or newer; refit speaks up to {NEWEST_KNOWN}")]
    TooNew { minimum: ApiVersion },
}

/// Choose the API version to speak: the newest both sides know.
///
/// `api_version` and `min_api_version` are the engine's `/version` answer. Engines before
/// API 1.25 did not report a minimum; none of those are supported anyway.
pub fn negotiate(
    api_version: Option<&str>,
    min_api_version: Option<&str>,
) -> Result<ApiVersion, NegotiationError> {
    let raw = api_version.ok_or(NegotiationError::Missing)?;
    let server =
        ApiVersion::parse(raw).ok_or_else(|| NegotiationError::Unreadable(raw.to_string()))?;
    if let Some(minimum) = min_api_version.and_then(ApiVersion::parse)
        && minimum > NEWEST_KNOWN
    {
        return Err(NegotiationError::TooNew { minimum });
    }
    let chosen = server.min(NEWEST_KNOWN);
    if chosen < OLDEST_SUPPORTED {
        return Err(NegotiationError::TooOld { server });
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_20_10_gets_api_1_41() {
        assert_eq!(
            negotiate(Some("1.41"), Some("1.12")),
            Ok(ApiVersion::new(1, 41))
        );
    }

    #[test]
    fn docker_29_gets_its_own_version_above_its_minimum() {
        // Docker 29.0 answers ApiVersion 1.52, MinAPIVersion 1.44: refit must not fall back
        // to an old default (Watchtower's crash loop was "client version 1.25 is too old").
        let chosen = negotiate(Some("1.52"), Some("1.44")).unwrap();
        assert_eq!(chosen, ApiVersion::new(1, 52));
        assert!(chosen >= MULTI_ENDPOINT_CREATE);
    }

    #[test]
    fn future_engines_are_spoken_to_at_the_newest_known_version() {
        assert_eq!(negotiate(Some("1.60"), Some("1.44")), Ok(NEWEST_KNOWN));
    }

    #[test]
    fn refuses_what_it_cannot_speak() {
        assert_eq!(
            negotiate(Some("1.40"), Some("1.12")),
            Err(NegotiationError::TooOld {
                server: ApiVersion::new(1, 40)
            })
        );
        assert_eq!(
            negotiate(Some("1.70"), Some("1.60")),
            Err(NegotiationError::TooNew {
                minimum: ApiVersion::new(1, 60)
            })
        );
        assert_eq!(negotiate(None, None), Err(NegotiationError::Missing));
        assert!(matches!(
            negotiate(Some("latest"), None),
            Err(NegotiationError::Unreadable(_))
        ));
    }

    #[test]
    fn versions_order_numerically() {
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.41").unwrap());
        assert_eq!(ApiVersion::new(1, 44).to_string(), "1.44");
    }
}
