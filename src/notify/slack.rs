//! `slack://` in shoutrrr's webhook forms: `slack://[botname@]token-a/token-b/token-c` and
//! `slack://hook:token-a-token-b-token-c@webhook`, both posting to
//! `https://hooks.slack.com/services/token-a/token-b/token-c`. `?host=...&scheme=http`
//! sends elsewhere (a relay, or a test's catcher on loopback); docs/notifications.md says so.

use reqwest::Url;
use serde_json::json;

use super::url::{decode, endpoint, http_scheme, param, segments};
use super::{Context, Error, Message, post};

const HOST: &str = "hooks.slack.com";

pub struct Slack {
    webhook: Url,
    botname: Option<String>,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slack(***)")
    }
}

const FORMS: &str = "expected slack://token-a/token-b/token-c or slack://hook:a-b-c@webhook";

pub fn parse(url: &Url) -> Result<Slack, String> {
    let host = url.host_str().map(decode).unwrap_or_default();
    let (tokens, botname) = if host == "webhook" && url.username() == "hook" {
        let joined = decode(url.password().unwrap_or_default());
        let tokens: Vec<String> = joined.splitn(3, '-').map(str::to_string).collect();
        (tokens, None)
    } else {
        let mut tokens = vec![host];
        tokens.extend(segments(url));
        let botname = Some(decode(url.username())).filter(|b| !b.is_empty());
        (tokens, botname)
    };
    if tokens.len() != 3 || tokens.iter().any(|t| t.is_empty() || t.contains('/')) {
        return Err(format!("slack:// URL: {FORMS}"));
    }
    let target = param(url, "host").unwrap_or_else(|| HOST.to_string());
    let path = format!("/services/{}/{}/{}", tokens[0], tokens[1], tokens[2]);
    let webhook = endpoint(http_scheme(url)?, &target, &path).map_err(|e| format!("slack: {e}"))?;
    Ok(Slack { webhook, botname })
}

impl Slack {
    pub async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        let mut body = json!({ "text": format!("*{}*\n{}", message.title, message.text) });
        if let Some(botname) = &self.botname {
            body["username"] = json!(botname);
        }
        post(context.http.post(self.webhook.clone()).json(&body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(text: &str) -> String {
        parse(&Url::parse(text).unwrap())
            .unwrap()
            .webhook
            .to_string()
    }

    #[test]
    fn both_shoutrrr_forms_reach_the_same_webhook() {
        let expected = "https://hooks.slack.com/services/T0AAA/B0BBB/XyZcase";
        assert_eq!(webhook("slack://T0AAA/B0BBB/XyZcase"), expected);
        assert_eq!(webhook("slack://refit@T0AAA/B0BBB/XyZcase"), expected);
        assert_eq!(
            webhook("slack://hook:T0AAA-B0BBB-XyZcase@webhook"),
            expected
        );
    }

    #[test]
    fn host_and_scheme_can_point_at_a_catcher() {
        assert_eq!(
            webhook("slack://a/b/c?host=127.0.0.1:9999&scheme=http"),
            "http://127.0.0.1:9999/services/a/b/c"
        );
    }

    #[test]
    fn a_short_url_is_refused() {
        let error = parse(&Url::parse("slack://a/b").unwrap()).unwrap_err();
        assert!(error.contains("token-a/token-b/token-c"), "{error}");
    }
}
