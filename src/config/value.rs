//! Value types and their parsers, shared by the file, the environment and the flags, so a value
//! is spelled and checked the same way in every layer. Each newtype validates inside its
//! `Deserialize`, which is what lets a file error point at the offending value.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::policy::Strategy;

/// Why a string is not a valid value for a key; the message names what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub(super) String);

/// A keyword enum: parsed case-insensitively, printed in lowercase, listed in its error.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])* $name:ident, $what:literal,
        { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the documentation lists them.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(input: &str) -> Result<Self, InvalidValue> {
                parse_keyword($name::ALL, $name::as_str, $what, input)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_parsed(deserializer)
            }
        }
    };
}

fn parse_keyword<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    what: &str,
    input: &str,
) -> Result<T, InvalidValue> {
    let input = input.trim();
    if let Some(value) = all
        .iter()
        .copied()
        .find(|v| as_str(*v).eq_ignore_ascii_case(input))
    {
        return Ok(value);
    }
    let expected: Vec<_> = all.iter().map(|v| format!("`{}`", as_str(*v))).collect();
    Err(InvalidValue(format!(
        "unknown {what} `{input}`, expected one of {}",
        expected.join(", ")
    )))
}

keyword_enum!(
    /// Which containers refit manages (`policy.selection`).
    Selection, "selection", {
        /// Only containers labelled `refit.enable=true` (Watchtower's `--label-enable`).
        #[default]
        OptIn = "opt-in",
        /// Every container except those labelled `refit.enable=false`.
        All = "all",
    }
);

keyword_enum!(
    /// How log lines are written (`log.format`).
    LogFormat, "log format", {
        #[default]
        Text = "text",
        Json = "json",
    }
);

keyword_enum!(
    /// The most verbose level logged (`log.level`); `as_str` is a valid tracing filter.
    LogLevel, "log level", {
        Error = "error",
        Warn = "warn",
        #[default]
        Info = "info",
        Debug = "debug",
        Trace = "trace",
    }
);

/// `policy.update`: the default strategy, spelled as the `refit.update` label (any case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StrategyValue(pub Strategy);

impl FromStr for StrategyValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let all = Strategy::ALL;
        let expected: Vec<_> = all.iter().map(|s| format!("`{}`", s.as_str())).collect();
        Strategy::parse(&input.to_ascii_lowercase())
            .map(StrategyValue)
            .ok_or_else(|| {
                InvalidValue(format!(
                    "unknown update strategy `{}`, expected one of {}",
                    input.trim(),
                    expected.join(", ")
                ))
            })
    }
}

impl Serialize for StrategyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for StrategyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// Deserializes a string and parses it with `FromStr`, so the file accepts exactly what the
/// environment and the flags accept.
pub(super) fn deserialize_parsed<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = InvalidValue>,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(de::Error::custom)
}

/// Booleans from the environment: true/false, 1/0, yes/no, any case.
pub(super) fn parse_bool(input: &str) -> Result<bool, InvalidValue> {
    match input.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(InvalidValue(format!(
            "expected a boolean (true/false, 1/0, yes/no), got `{input}`"
        ))),
    }
}

/// A duration key: `90s`, `5m`, `2h` (humantime), or a bare number of seconds as Watchtower's
/// interval is written, either as a TOML integer or as a numeric string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DurationValue(pub Duration);

impl FromStr for DurationValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let text = input.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let seconds = text
                .parse()
                .map_err(|_| InvalidValue(format!("duration `{input}` is too large")))?;
            return Ok(DurationValue(Duration::from_secs(seconds)));
        }
        humantime::parse_duration(text)
            .map(DurationValue)
            .map_err(|e| InvalidValue(format!("invalid duration `{input}`: {e}")))
    }
}

impl Serialize for DurationValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

/// A duration the way the documentation writes them, hours at most (`24h`, `1h 30m`,
/// `1s 500ms`): humantime would print `1day`, and its months are 30.44 days.
pub(super) fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let units = [
        (secs / 3600, "h"),
        (secs % 3600 / 60, "m"),
        (secs % 60, "s"),
    ];
    let mut parts: Vec<String> = units
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    let fraction = Duration::new(0, duration.subsec_nanos());
    if !fraction.is_zero() {
        parts.push(humantime::format_duration(fraction).to_string());
    }
    if parts.is_empty() {
        return "0s".to_string();
    }
    parts.join(" ")
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = DurationValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"90s\", \"5m\" or a number of seconds")
            }

            fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<DurationValue, E> {
                Ok(DurationValue(Duration::from_secs(seconds)))
            }

            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<DurationValue, E> {
                u64::try_from(seconds)
                    .map(|s| DurationValue(Duration::from_secs(s)))
                    .map_err(|_| E::custom(format!("duration {seconds} is negative")))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationValue, E> {
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

/// The Docker engine address: `unix://`, `tcp://`, `http://`, `https://` or `npipe://`, as
/// `DOCKER_HOST` takes it. Empty means unset, so `DEFAULT_DOCKER_HOST` applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(super) struct DockerHost(pub String);

const DOCKER_HOST_SCHEMES: [&str; 5] = ["unix", "tcp", "http", "https", "npipe"];

impl FromStr for DockerHost {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let host = input.trim();
        if host.is_empty() {
            return Ok(DockerHost(String::new()));
        }
        match host.split_once("://") {
            Some((scheme, rest)) if DOCKER_HOST_SCHEMES.contains(&scheme) && !rest.is_empty() => {
                Ok(DockerHost(host.to_string()))
            }
            _ => Err(InvalidValue(format!(
                "unsupported docker host `{input}`, expected unix:///path or tcp://host:port \
                 (schemes: {})",
                DOCKER_HOST_SCHEMES.join(", ")
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for DockerHost {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// A registry host as it appears in a normalised image reference (`docker.io`, `ghcr.io`,
/// `127.0.0.1:5000`), which is how the registry code looks entries up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(super) struct RegistryHost(pub String);

impl FromStr for RegistryHost {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let invalid = |why: &str| Err(InvalidValue(format!("registry host `{input}` {why}")));
        if input.is_empty() {
            return invalid("is empty");
        }
        if input.contains("://") {
            return invalid("has a scheme, write only the host (and port)");
        }
        if input.contains('/') || input.contains(char::is_whitespace) {
            return invalid("is not a host[:port]");
        }
        // Docker Hub's other names: image references are normalised to `docker.io`
        // (see model::image_ref), so an entry under another name would never match.
        if input == "index.docker.io" || input == "registry-1.docker.io" {
            return invalid("never matches, Docker Hub is written `docker.io`");
        }
        Ok(RegistryHost(input.to_string()))
    }
}

impl<'de> Deserialize<'de> for RegistryHost {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// What `refit config` prints for a registry password: `"***"` when one was read from
/// `password_file`, `""` when there is none. Any other value is refused, because a password
/// belongs in a file, not in the configuration; the refusal never repeats the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PasswordMarker {
    None,
    Redacted,
}

pub(super) const REDACTED: &str = "***";

impl Serialize for PasswordMarker {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            PasswordMarker::None => "",
            PasswordMarker::Redacted => REDACTED,
        })
    }
}

impl<'de> Deserialize<'de> for PasswordMarker {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MarkerVisitor;

        const REFUSED: &str = "a password is not written in the configuration, put it in a file \
                               and set password_file (`password` only takes \"***\", as \
                               `refit config` prints it)";

        // Every visit_* is overridden: serde's defaults would quote the value in the error.
        impl Visitor<'_> for MarkerVisitor {
            type Value = PasswordMarker;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"***\" or \"\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<PasswordMarker, E> {
                match text {
                    "" => Ok(PasswordMarker::None),
                    REDACTED => Ok(PasswordMarker::Redacted),
                    _ => Err(E::custom(REFUSED)),
                }
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<PasswordMarker, E> {
                Err(E::custom(REFUSED))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<PasswordMarker, E> {
                Err(E::custom(REFUSED))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<PasswordMarker, E> {
                Err(E::custom(REFUSED))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<PasswordMarker, E> {
                Err(E::custom(REFUSED))
            }
        }

        deserializer.deserialize_any(MarkerVisitor)
    }
}
