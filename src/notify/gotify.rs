//! `gotify://host[:port][/path]/token` (shoutrrr's form): a POST of
//! `{"title", "message", "priority"}` to `https://host[:port][/path]/message`, the application
//! token in the `X-Gotify-Key` header rather than the query (where proxies log it).
//! `?scheme=http` (or `?disabletls=yes`) for a server without TLS; `?priority=N` (default 5).

use reqwest::Url;
use serde_json::json;

use super::url::{authority, endpoint, http_scheme, param, segments};
use super::{Context, Error, Message, post};
use crate::secret::Secret;

#[derive(Debug)]
pub struct Gotify {
    endpoint: Url,
    host: String,
    token: Secret,
    priority: i64,
}

pub fn parse(url: &Url) -> Result<Gotify, String> {
    let host = authority(url).map_err(|e| format!("gotify:// URL: {e}"))?;
    let mut path = segments(url);
    let Some(token) = path.pop() else {
        return Err("gotify:// URL: expected gotify://host/token".into());
    };
    let prefix: String = path.iter().map(|s| format!("/{s}")).collect();
    let endpoint = endpoint(http_scheme(url)?, &host, &format!("{prefix}/message"))
        .map_err(|e| format!("gotify: {e}"))?;
    let priority = match param(url, "priority") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("gotify:// URL: priority={p} is not a number"))?,
        None => 5,
    };
    Ok(Gotify {
        endpoint,
        host,
        token: Secret::new(token),
        priority,
    })
}

impl Gotify {
    pub fn redacted(&self) -> String {
        format!("gotify://{}/***", self.host)
    }

    pub async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        let body = json!({
            "title": message.title,
            "message": message.text,
            "priority": self.priority,
        });
        let request = context
            .http
            .post(self.endpoint.clone())
            .header("X-Gotify-Key", self.token.expose())
            .json(&body);
        post(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_segment_is_the_token() {
        let gotify =
            parse(&Url::parse("gotify://push.example.com/sub/AbC?priority=8").unwrap()).unwrap();
        assert_eq!(
            gotify.endpoint.as_str(),
            "https://push.example.com/sub/message"
        );
        assert_eq!(gotify.token.expose(), "AbC");
        assert_eq!(gotify.priority, 8);
        assert!(parse(&Url::parse("gotify://push.example.com").unwrap()).is_err());
    }
}
