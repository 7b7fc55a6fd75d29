//! `[[trust.signatures]]` entries to `SignatureRule`s and back: the pattern must be a usable
//! glob and the key file a public key sigstore can verify with, both reported at their place
//! in the file.

use std::path::PathBuf;

use toml::Spanned;

use super::Context;
use crate::config::error::ConfigError;
use crate::config::raw::RawSignatureRule;
use crate::trust::{self, SignatureRule, TrustedKey};

/// Signature rules have no environment form, so every span here is in the file.
pub(super) fn rules(
    raw: Vec<RawSignatureRule>,
    ctx: &Context,
) -> Result<Vec<SignatureRule>, ConfigError> {
    raw.into_iter().map(|entry| convert(entry, ctx)).collect()
}

fn convert(raw: RawSignatureRule, ctx: &Context) -> Result<SignatureRule, ConfigError> {
    let span = raw.pattern.span();
    let pattern = raw.pattern.into_inner().trim().to_string();
    if pattern.is_empty() || pattern.chars().any(char::is_whitespace) {
        let message = "match must be a glob over registry/repository without spaces, \
                       such as \"ghcr.io/acme/*\""
            .to_string();
        return Err(ctx.error("trust.signatures.match", span, message));
    }
    let key_span = raw.public_key.span();
    let path = raw.public_key.into_inner();
    let key_error =
        |message: String| ctx.error("trust.signatures.public_key", key_span.clone(), message);
    if path.as_os_str().is_empty() {
        return Err(key_error(
            "public_key must name a PEM public key file".into(),
        ));
    }
    let pem = std::fs::read_to_string(&path)
        .map_err(|e| key_error(format!("cannot read public key {}: {e}", path.display())))?;
    trust::check_public_key(&pem).map_err(|e| {
        key_error(format!(
            "{} is not a public key refit can verify with: {e}",
            path.display()
        ))
    })?;
    Ok(SignatureRule {
        pattern,
        key: TrustedKey { path, pem },
    })
}

pub(super) fn raw_rule(rule: &SignatureRule) -> RawSignatureRule {
    let path = rule.key.path.to_string_lossy().into_owned();
    RawSignatureRule {
        pattern: Spanned::new(0..0, rule.pattern.clone()),
        public_key: Spanned::new(0..0, PathBuf::from(path)),
    }
}
