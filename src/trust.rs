//! Signature policy, the pure part: `[[trust.signatures]]` rules, which images they cover, what
//! a verification is asked and what it can answer, and the `SignatureVerifier` trait the IO
//! side implements (`registry::CosignVerifier`, with the sigstore crate). No IO here: the
//! planner and its tests use these types with fakes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::model::ImageRef;
use crate::registry::Credentials;

/// A public key a signature must verify with: its file (named in reasons) and its PEM text.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub path: PathBuf,
    pub pem: String,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The PEM is public, but long; the path says which key it is.
        f.debug_tuple("TrustedKey").field(&self.path).finish()
    }
}

/// One `[[trust.signatures]]` rule: images whose `registry/repository` matches `pattern` need a
/// valid cosign signature by `key` on the digest they are updated to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRule {
    /// A glob over `registry/repository` where `*` matches any characters, `/` included.
    pub pattern: String,
    pub key: TrustedKey,
}

impl SignatureRule {
    /// Whether the rule covers the repository `reference` names (`docker.io/library/nginx`).
    pub fn covers(&self, reference: &ImageRef) -> bool {
        glob_matches(&self.pattern, &reference.name())
    }
}

/// `*` matches any run of characters (`/` included); every other character matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    // Proven: `split` always yields a first item, empty when the pattern starts with `*`.
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: the whole text must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Whether `pem` is a public key sigstore can verify cosign signatures with (ECDSA P-256/P-384,
/// RSA, Ed25519), so that a bad key file is a configuration error rather than a skip later.
pub fn check_public_key(pem: &str) -> Result<(), String> {
    sigstore::crypto::CosignVerificationKey::try_from_pem(pem.as_bytes())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One verification: the image at the digest it is updated to (`repo@sha256:...`; the index
/// digest of a multi-arch image) and every key a rule covering it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    pub reference: ImageRef,
    pub keys: Vec<TrustedKey>,
}

impl SignatureCheck {
    /// Where cosign stores the signature: the tag `sha256-<hex>.sig` in the same repository.
    pub fn signature_tag(&self) -> Option<ImageRef> {
        let digest = self.reference.digest()?;
        let tag = format!("{}-{}.sig", digest.algorithm(), digest.hex());
        Some(self.reference.with_tag(&tag))
    }
}

/// Why an image's signature is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No cosign signature exists for the digest: a skip.
    Missing(String),
    /// A signature exists but does not verify (another key, another digest or repository, a
    /// malformed layer): a skip.
    Invalid(String),
    /// sigstore found no usable signature layer. It hides fetch errors, so this is "missing",
    /// "invalid" or "registry down" until the caller looks at the signature tag itself.
    NoValidLayer,
    /// The signature could not be looked at (registry unreachable, refused, setup): an error,
    /// since the image may well be signed.
    Unverified(String),
}

/// The verdicts of a pass, by signed reference (`repo@digest`).
pub type SignatureResults = std::collections::BTreeMap<ImageRef, Result<(), SignatureProblem>>;

/// Verifies cosign signatures. The HTTP implementation uses the sigstore crate; tests fake it.
#[async_trait]
pub trait SignatureVerifier: Send + Sync {
    /// Ok when, for every key of `check`, one signature layer of the image verifies with it and
    /// its payload names the image's digest and repository.
    async fn verify(
        &self,
        check: &SignatureCheck,
        credentials: Option<&Credentials>,
    ) -> Result<(), SignatureProblem>;
}

/// The `[[trust.signatures]]` rules and what verifies them, as a pass needs them.
#[derive(Clone)]
pub struct SignaturePolicy {
    pub rules: Vec<SignatureRule>,
    pub verifier: Arc<dyn SignatureVerifier>,
}

impl Default for SignaturePolicy {
    fn default() -> Self {
        SignaturePolicy {
            rules: Vec::new(),
            verifier: Arc::new(NoVerifier),
        }
    }
}

impl fmt::Debug for SignaturePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignaturePolicy")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

/// A verifier for configurations without rules: asked nothing, it refuses everything.
pub struct NoVerifier;

#[async_trait]
impl SignatureVerifier for NoVerifier {
    async fn verify(
        &self,
        _check: &SignatureCheck,
        _credentials: Option<&Credentials>,
    ) -> Result<(), SignatureProblem> {
        Err(SignatureProblem::Unverified(
            "no signature verifier is configured".into(),
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn stars_match_across_slashes() {
        let cases = [
            ("ghcr.io/acme/*", "ghcr.io/acme/app", true),
            ("ghcr.io/acme/*", "ghcr.io/acme/team/app", true),
            ("ghcr.io/acme/*", "ghcr.io/acmeco/app", false),
            ("*", "docker.io/library/nginx", true),
            ("*/nginx", "docker.io/library/nginx", true),
            ("docker.io/library/nginx", "docker.io/library/nginx", true),
            ("docker.io/library/nginx", "docker.io/library/nginx2", false),
            ("127.0.0.1:5000/*/app", "127.0.0.1:5000/a/b/app", true),
            ("127.0.0.1:5000/*/app", "127.0.0.1:5000/a/b/apps", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("ab*ba", "aba", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn the_signature_tag_is_cosigns() {
        let hex = "ab".repeat(32);
        let reference: ImageRef = format!("127.0.0.1:5000/a/app@sha256:{hex}")
            .parse()
            .unwrap();
        let check = SignatureCheck {
            reference,
            keys: Vec::new(),
        };
        assert_eq!(
            check.signature_tag().unwrap().to_string(),
            format!("127.0.0.1:5000/a/app:sha256-{hex}.sig")
        );
    }

    /// A P-256 public key, as `cosign generate-key-pair` writes one (a unit-test fixture).
    pub(crate) const TEST_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE93wD6vugmFlIvoHSXBSIWTaSt0G5
b/ScOd+szmmloberXl4/EW+qj5fiWcWZSS5yjheRkrS3ctZKv3BpEdqt7A==
-----END PUBLIC KEY-----
";

    #[test]
    fn keys_are_checked_with_sigstore() {
        assert!(check_public_key(TEST_PUBLIC_KEY).is_ok());
        assert!(check_public_key("not a key").is_err());
        let truncated = TEST_PUBLIC_KEY.replace("b/ScOd", "");
        assert!(check_public_key(&truncated).is_err());
    }
}
