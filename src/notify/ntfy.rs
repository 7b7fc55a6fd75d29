//! `ntfy://[user:password@]host[:port]/topic` (shoutrrr's form): a POST of the text to
//! `https://host/topic` with the title in ntfy's `Title` header. A user name and password
//! are sent as Basic auth, a password alone (`ntfy://:tk_...@host/topic`) as an access token.
//! `?scheme=http` (or `?disabletls=yes`) for a server without TLS.

use reqwest::Url;

use super::url::{authority, decode, endpoint, http_scheme, segments};
use super::{Context, Error, Message, post};
use crate::secret::Secret;

#[derive(Debug)]
pub struct Ntfy {
    endpoint: Url,
    host: String,
    username: String,
    password: Option<Secret>,
}

pub fn parse(url: &Url) -> Result<Ntfy, String> {
    let host = authority(url).map_err(|e| format!("ntfy:// URL: {e}"))?;
    let topic = match segments(url).as_slice() {
        [topic] => topic.clone(),
        _ => return Err("ntfy:// URL: expected ntfy://host/topic".into()),
    };
    let endpoint = endpoint(http_scheme(url)?, &host, &format!("/{topic}"))
        .map_err(|e| format!("ntfy: {e}"))?;
    Ok(Ntfy {
        endpoint,
        host,
        username: decode(url.username()),
        password: url.password().map(|p| Secret::new(decode(p))),
    })
}

impl Ntfy {
    pub fn redacted(&self) -> String {
        format!("ntfy://{}/***", self.host)
    }

    pub async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        let mut request = context
            .http
            .post(self.endpoint.clone())
            .header("Title", ascii(&message.title))
            .header("Tags", "whale")
            .body(message.text.clone());
        request = match (&self.password, self.username.is_empty()) {
            (Some(password), false) => request.basic_auth(&self.username, Some(password.expose())),
            (Some(token), true) => request.bearer_auth(token.expose()),
            (None, _) => request,
        };
        post(request).await
    }
}

/// HTTP header values are ASCII; the title is, but a container name need not be.
fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_topic_make_the_endpoint() {
        let ntfy = parse(&Url::parse("ntfy://ntfy.example.com/updates").unwrap()).unwrap();
        assert_eq!(ntfy.endpoint.as_str(), "https://ntfy.example.com/updates");
        let plain = parse(&Url::parse("ntfy://u:p@127.0.0.1:8080/t?scheme=http").unwrap()).unwrap();
        assert_eq!(plain.endpoint.as_str(), "http://127.0.0.1:8080/t");
        assert_eq!(plain.username, "u");
        assert!(parse(&Url::parse("ntfy://ntfy.sh/").unwrap()).is_err());
    }
}
