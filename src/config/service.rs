//! Values of `[api]` and `[notify]`: the listen address, the API token and notification URLs,
//! parsed the same way from the file and the environment. The token and the URLs are secrets:
//! they print as `"***"` (a URL keeps its scheme and host), and that printed form is refused
//! on input rather than taken for a real token.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::value::{InvalidValue, REDACTED, deserialize_parsed};
use crate::notify::NotifyUrl;
use crate::secret::Secret;

/// `api.listen`: `host:port` with an IP address, `:port` for every interface (Watchtower's
/// form), or `localhost:port`. Empty: no API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ListenValue(pub Option<SocketAddr>);

impl FromStr for ListenValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let text = input.trim();
        if text.is_empty() {
            return Ok(ListenValue(None));
        }
        let any = |port: &str| {
            port.parse::<u16>()
                .map(|p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p)))
        };
        let parsed = match (text.strip_prefix(':'), text.strip_prefix("localhost:")) {
            (Some(port), _) => any(port).ok(),
            (_, Some(port)) => port
                .parse::<u16>()
                .ok()
                .map(|p| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, p))),
            _ => text.parse().ok(),
        };
        parsed.map(|a| ListenValue(Some(a))).ok_or_else(|| {
            InvalidValue(format!(
                "listen address `{input}` is not ip:port, :port or localhost:port \
                 (e.g. \"0.0.0.0:8080\")"
            ))
        })
    }
}

impl Serialize for ListenValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.map(|a| a.to_string()).unwrap_or_default())
    }
}

impl<'de> Deserialize<'de> for ListenValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// `api.token` written inline: printed as `"***"` when set. The message of a refused value
/// never repeats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TokenValue(pub Secret);

impl FromStr for TokenValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let token = input.trim();
        if token == REDACTED {
            return Err(InvalidValue(format!(
                "token = \"{REDACTED}\" is how `refit config` hides a token; write the token, \
                 or set token_file"
            )));
        }
        Ok(TokenValue(Secret::new(token)))
    }
}

impl Serialize for TokenValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.0.is_empty() { "" } else { REDACTED })
    }
}

impl<'de> Deserialize<'de> for TokenValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// One of `notify.urls`, printed redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NotifyUrlValue(pub NotifyUrl);

impl FromStr for NotifyUrlValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        input.parse().map(NotifyUrlValue).map_err(InvalidValue)
    }
}

impl Serialize for NotifyUrlValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.redacted())
    }
}

impl<'de> Deserialize<'de> for NotifyUrlValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// `REFIT_NOTIFY_URLS` and `WATCHTOWER_NOTIFICATION_URL`: URLs separated by spaces (a URL
/// holds no space, but may hold commas).
pub(super) fn url_list(value: &str) -> Result<Vec<NotifyUrlValue>, InvalidValue> {
    value.split_whitespace().map(str::parse).collect()
}
