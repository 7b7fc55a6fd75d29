//! `[api]` and `[notify]` to their configs and back: the token read from `token_file`, and
//! the rule that an API needs a token unless it only serves public metrics.

use std::fs;
use std::path::Path;

use toml::Spanned;

use super::{Context, printable, set_path};
use crate::config::error::ConfigError;
use crate::config::raw::{RawApi, RawNotify};
use crate::config::service::{ListenValue, NotifyUrlValue, TokenValue};
use crate::config::{ApiConfig, NotifyConfig};
use crate::secret::Secret;

pub(super) fn notify(raw: RawNotify) -> NotifyConfig {
    let urls = raw.urls.unwrap_or_default();
    NotifyConfig {
        urls: urls.into_iter().map(|u| u.0).collect(),
    }
}

pub(super) fn api(raw: RawApi, ctx: &Context) -> Result<ApiConfig, ConfigError> {
    let token = raw
        .token
        .filter(|t| !t.get_ref().0.is_empty())
        .map(|t| (t.span(), t.into_inner().0));
    let token_file = set_path(raw.token_file);
    if let (Some((span, _)), Some(_)) = (&token, &token_file) {
        let message = "token and token_file are both set; keep one".to_string();
        return Err(ctx.error("api.token", span.clone(), message));
    }
    let token_file = token_file.map(Spanned::into_inner);
    let token = match (&token_file, token) {
        (Some(path), _) => Some(read_token(path)?),
        (None, token) => token.map(|(_, t)| t),
    };
    let metrics_public = raw.metrics_public.unwrap_or(false);
    let listen = match raw.listen {
        Some(listen) => match listen.get_ref().0 {
            Some(address) if token.is_none() && !metrics_public => {
                let message = format!(
                    "listen = \"{address}\" serves the API, which needs token or token_file \
                     (or metrics_public = true for a metrics-only API)"
                );
                return Err(ctx.error("api.listen", listen.span(), message));
            }
            address => address,
        },
        None => None,
    };
    Ok(ApiConfig {
        listen,
        token,
        token_file,
        metrics_public,
    })
}

/// The file's content without its trailing newline.
fn read_token(path: &Path) -> Result<Secret, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim_end_matches(['\r', '\n']);
    if token.is_empty() {
        return Err(ConfigError::EmptyTokenFile {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(token))
}

pub(super) fn raw_notify(config: &NotifyConfig) -> RawNotify {
    RawNotify {
        urls: Some(config.urls.iter().cloned().map(NotifyUrlValue).collect()),
    }
}

/// A token read from `token_file` prints as `""`: the file is printed and holds it.
pub(super) fn raw_api(config: &ApiConfig) -> RawApi {
    let inline = match (&config.token, &config.token_file) {
        (Some(token), None) => token.clone(),
        _ => Secret::default(),
    };
    RawApi {
        listen: Some(Spanned::new(0..0, ListenValue(config.listen))),
        token: Some(Spanned::new(0..0, TokenValue(inline))),
        token_file: Some(printable(config.token_file.as_ref())),
        metrics_public: Some(config.metrics_public),
    }
}
