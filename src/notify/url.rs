//! Notification URLs (`[notify] urls`, `WATCHTOWER_NOTIFICATION_URL`) in the shoutrrr forms
//! Watchtower users already have. Parsing is pure and happens at configuration load, so a bad
//! URL is a configuration error with its position; each notifier file owns its own form.
//!
//! A URL holds credentials (webhook tokens, passwords), so `NotifyUrl` shows itself only
//! redacted: `scheme://host/***`, or `scheme://***` where the host is itself a token.

use std::fmt;
use std::str::FromStr;

use reqwest::Url;

use super::{discord, generic, gotify, ntfy, slack, smtp};
use crate::secret::Secret;

/// What `refit config` prints in place of a URL's secret parts; refused on input.
pub const REDACTION: &str = "***";

/// A validated notification URL. Equal when the text is.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyUrl {
    text: Secret,
    redacted: String,
}

impl NotifyUrl {
    /// The form safe to log and print.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub(super) fn target(&self) -> Result<Target, String> {
        parse(self.text.expose())
    }
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Display for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl FromStr for NotifyUrl {
    type Err = String;

    /// The message never repeats the URL: it may hold a token.
    fn from_str(text: &str) -> Result<NotifyUrl, String> {
        let text = text.trim();
        if text.contains(REDACTION) {
            return Err(format!(
                "a notification URL with `{REDACTION}` is a redacted one, as `refit config` \
                 prints it; write the URL itself"
            ));
        }
        let target = parse(text)?;
        Ok(NotifyUrl {
            text: Secret::new(text),
            redacted: target.redacted(),
        })
    }
}

/// A parsed URL: which notifier, and where it sends.
#[derive(Debug)]
pub(super) enum Target {
    Generic(generic::Generic),
    Slack(slack::Slack),
    Discord(discord::Discord),
    Ntfy(ntfy::Ntfy),
    Gotify(gotify::Gotify),
    Smtp(smtp::Smtp),
}

impl Target {
    pub fn redacted(&self) -> String {
        match self {
            Target::Generic(t) => t.redacted(),
            Target::Slack(_) => "slack://***".into(),
            Target::Discord(_) => "discord://***".into(),
            Target::Ntfy(t) => t.redacted(),
            Target::Gotify(t) => t.redacted(),
            Target::Smtp(t) => t.redacted(),
        }
    }
}

pub(super) const SCHEMES: &str = "generic+https://, generic+http://, generic://, slack://, discord://, ntfy://, gotify://, smtp://";

fn parse(text: &str) -> Result<Target, String> {
    let url = Url::parse(text).map_err(|e| format!("not a notification URL ({e})"))?;
    match url.scheme() {
        "generic" | "generic+https" | "generic+http" => generic::parse(&url).map(Target::Generic),
        "slack" => slack::parse(&url).map(Target::Slack),
        "discord" => discord::parse(&url).map(Target::Discord),
        "ntfy" => ntfy::parse(&url).map(Target::Ntfy),
        "gotify" => gotify::parse(&url).map(Target::Gotify),
        "smtp" => smtp::parse(&url).map(Target::Smtp),
        other => Err(format!(
            "unsupported notification scheme `{other}://`, expected one of {SCHEMES}"
        )),
    }
}

/// A query parameter (shoutrrr's are case-insensitive).
pub(super) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.into_owned())
}

/// The scheme a notifier sends with: https, unless `?scheme=http` or shoutrrr's
/// `?disabletls=yes` asks for plain HTTP (for a relay or a test catcher on loopback).
pub(super) fn http_scheme(url: &Url) -> Result<&'static str, String> {
    if let Some(scheme) = param(url, "scheme") {
        return match scheme.to_ascii_lowercase().as_str() {
            "https" => Ok("https"),
            "http" => Ok("http"),
            _ => Err(format!("scheme={scheme}: expected http or https")),
        };
    }
    let plain = param(url, "disabletls")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1"));
    Ok(if plain { "http" } else { "https" })
}

/// `host[:port]` of a URL with a real host.
pub(super) fn authority(url: &Url) -> Result<String, String> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL has no host")?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Percent-decoding of a URL part (user names, passwords and path tokens arrive encoded).
pub(super) fn decode(part: &str) -> String {
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The non-empty path segments, decoded.
pub(super) fn segments(url: &Url) -> Vec<String> {
    url.path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(decode).collect())
        .unwrap_or_default()
}

/// Builds `scheme://authority/path`, refusing what would not be a URL.
pub(super) fn endpoint(scheme: &str, authority: &str, path: &str) -> Result<Url, String> {
    Url::parse(&format!("{scheme}://{authority}{path}"))
        .map_err(|e| format!("cannot build the endpoint URL ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_and_prints_redacted() {
        let cases = [
            (
                "generic+https://hooks.example.com/in/s3cret",
                "generic+https://hooks.example.com/***",
            ),
            (
                "generic+http://127.0.0.1:9000/hook",
                "generic+http://127.0.0.1:9000/***",
            ),
            ("slack://AAA/BBB/s3cret", "slack://***"),
            ("discord://s3cret@123456", "discord://***"),
            ("ntfy://ntfy.sh/s3cret-topic", "ntfy://ntfy.sh/***"),
            (
                "gotify://push.example.com/s3cret",
                "gotify://push.example.com/***",
            ),
            (
                "smtp://u:s3cret@mail.example.com:587/?from=a@example.com&to=b@example.com",
                "smtp://mail.example.com:587/***",
            ),
        ];
        for (text, redacted) in cases {
            let url: NotifyUrl = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(url.redacted(), redacted);
            assert_eq!(format!("{url:?} {url}"), format!("{redacted} {redacted}"));
        }
    }

    #[test]
    fn errors_name_the_problem_never_the_url() {
        for (text, expected) in [
            (
                "telegram://s3cret@telegram",
                "unsupported notification scheme `telegram://`",
            ),
            ("slack://s3cret", "slack://"),
            (
                "smtp://u:s3cret@mail.example.com/?to=b@example.com",
                "from=",
            ),
            ("slack://***", "redacted"),
            ("not a url s3cret", "not a notification URL"),
        ] {
            let error = text.parse::<NotifyUrl>().unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("s3cret"), "{text}: {error}");
        }
    }

    #[test]
    fn decode_handles_escapes_and_stray_percents() {
        assert_eq!(decode("p%40ss%2Fw"), "p@ss/w");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
