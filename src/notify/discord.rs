//! `discord://token@webhookid` (shoutrrr's form): a POST of `{"content": ...}` to
//! `https://discord.com/api/webhooks/<webhookid>/<token>`. `?host=...&scheme=http` sends
//! elsewhere (a relay, or a test's catcher on loopback).

use reqwest::Url;
use serde_json::json;

use super::url::{decode, endpoint, http_scheme, param};
use super::{Context, Error, Message, post};

const HOST: &str = "discord.com";

/// Discord refuses a message longer than this many characters.
const MAX_CONTENT: usize = 2000;

pub struct Discord {
    webhook: Url,
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discord(***)")
    }
}

pub fn parse(url: &Url) -> Result<Discord, String> {
    let token = decode(url.username());
    let id = url.host_str().map(decode).unwrap_or_default();
    if token.is_empty() || id.is_empty() || token.contains('/') {
        return Err("discord:// URL: expected discord://token@webhookid".into());
    }
    let target = param(url, "host").unwrap_or_else(|| HOST.to_string());
    let path = format!("/api/webhooks/{id}/{token}");
    let webhook =
        endpoint(http_scheme(url)?, &target, &path).map_err(|e| format!("discord: {e}"))?;
    Ok(Discord { webhook })
}

impl Discord {
    pub async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        let content = truncate(&format!("**{}**\n{}", message.title, message.text));
        let body = json!({ "content": content, "username": "refit" });
        post(context.http.post(self.webhook.clone()).json(&body)).await
    }
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_CONTENT {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_CONTENT - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_takes_id_then_token() {
        let discord = parse(&Url::parse("discord://TokEn@123456").unwrap()).unwrap();
        assert_eq!(
            discord.webhook.as_str(),
            "https://discord.com/api/webhooks/123456/TokEn"
        );
    }

    #[test]
    fn a_long_message_is_cut_to_discords_limit() {
        assert_eq!(truncate(&"x".repeat(5000)).chars().count(), MAX_CONTENT);
    }
}
