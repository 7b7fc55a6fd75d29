//! `generic+https://host/path?query` (or `generic+http://`, or shoutrrr's `generic://` with
//! `?disabletls=yes` for plain HTTP): a JSON POST of the pass report, holding only the
//! containers with something to report, to `https://host/path?query`. The query is the
//! target's own and is passed on, but for `disabletls`.

use reqwest::Url;

use super::url::{authority, param};
use super::{Context, Error, Message, post};

#[derive(Debug)]
pub struct Generic {
    endpoint: Url,
}

pub fn parse(url: &Url) -> Result<Generic, String> {
    let scheme = match url.scheme() {
        "generic+http" => "http",
        "generic+https" => "https",
        _ if param(url, "disabletls").is_some_and(|v| v.eq_ignore_ascii_case("yes")) => "http",
        _ => "https",
    };
    let mut endpoint = super::url::endpoint(scheme, &authority(url)?, url.path())
        .map_err(|e| format!("generic: {e}"))?;
    let query: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("disabletls"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !query.is_empty() {
        endpoint.query_pairs_mut().extend_pairs(query);
    }
    Ok(Generic { endpoint })
}

impl Generic {
    pub fn redacted(&self) -> String {
        let host = self.endpoint.host_str().unwrap_or_default();
        match self.endpoint.port() {
            Some(port) => format!("generic+{}://{host}:{port}/***", self.endpoint.scheme()),
            None => format!("generic+{}://{host}/***", self.endpoint.scheme()),
        }
    }

    pub async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        post(
            context
                .http
                .post(self.endpoint.clone())
                .json(&message.report),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(text: &str) -> String {
        parse(&Url::parse(text).unwrap())
            .unwrap()
            .endpoint
            .to_string()
    }

    #[test]
    fn the_scheme_and_query_follow_the_url() {
        assert_eq!(
            endpoint("generic+https://h.example.com/a/b?key=v"),
            "https://h.example.com/a/b?key=v"
        );
        assert_eq!(
            endpoint("generic+http://127.0.0.1:8080/in"),
            "http://127.0.0.1:8080/in"
        );
        assert_eq!(
            endpoint("generic://127.0.0.1:8080/in?disabletls=yes"),
            "http://127.0.0.1:8080/in"
        );
        assert_eq!(
            endpoint("generic://h.example.com/in"),
            "https://h.example.com/in"
        );
    }
}
