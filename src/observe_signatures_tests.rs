//! `observe::signatures` against a scripted registry and verifier: what sigstore's "no layer"
//! turns into once refit has asked the registry about the `.sig` tag itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use super::signatures;
use crate::model::{Digest, ImageRef, test_digest};
use crate::registry::{self, Credentials, IndexEntry, ManifestHead, Registry};
use crate::secret::Secret;
use crate::trust::{SignatureCheck, SignatureProblem, SignatureVerifier, TrustedKey};

/// Answers a `.sig` tag HEAD per repository: found, absent, or unreachable.
struct SigTags {
    answers: BTreeMap<String, &'static str>,
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl Registry for SigTags {
    async fn head_manifest(&self, r: &ImageRef) -> Result<ManifestHead, registry::Error> {
        self.asked.lock().unwrap().push(r.to_string());
        match self.answers.get(r.repository()).copied() {
            Some("found") => Ok(ManifestHead {
                digest: test_digest(0x51),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            }),
            Some("down") => Err(registry::Error::Unreachable {
                registry: r.registry().into(),
                message: "connection refused".into(),
            }),
            _ => Err(registry::Error::NotFound {
                reference: r.to_string(),
            }),
        }
    }
    async fn index_entries(&self, _: &ImageRef) -> Result<Vec<IndexEntry>, registry::Error> {
        unreachable!("not asked")
    }
    async fn config_digest(&self, _: &ImageRef) -> Result<Digest, registry::Error> {
        unreachable!("not asked")
    }
    async fn list_tags(&self, _: &ImageRef) -> Result<Vec<String>, registry::Error> {
        unreachable!("not asked")
    }
    async fn credentials(&self, registry: &str) -> Option<Credentials> {
        Some(Credentials {
            username: "robot".into(),
            password: Secret::new("pw"),
            server: registry.into(),
        })
    }
}

/// sigstore as refit sees it: verified for `good`, no layer for the rest.
struct Verifier;

#[async_trait]
impl SignatureVerifier for Verifier {
    async fn verify(
        &self,
        check: &SignatureCheck,
        credentials: Option<&Credentials>,
    ) -> Result<(), SignatureProblem> {
        assert_eq!(credentials.map(|c| c.username.as_str()), Some("robot"));
        if check.reference.repository() == "good" {
            Ok(())
        } else {
            Err(SignatureProblem::NoValidLayer)
        }
    }
}

fn check(repository: &str) -> SignatureCheck {
    SignatureCheck {
        reference: format!("127.0.0.1:5000/{repository}:1")
            .parse::<ImageRef>()
            .unwrap()
            .at_digest(&test_digest(7)),
        keys: vec![TrustedKey {
            path: PathBuf::from("/k.pub"),
            pem: String::new(),
        }],
    }
}

#[tokio::test]
async fn no_layer_is_told_apart_by_the_signature_tag() {
    let registry = SigTags {
        answers: [("other", "found"), ("down", "down")]
            .map(|(r, a)| (r.to_string(), a))
            .into(),
        asked: Mutex::default(),
    };
    let checks = ["good", "unsigned", "other", "down"].map(check).to_vec();
    let results = signatures(&registry, &Verifier, checks, 2).await;
    let verdict = |repository: &str| results[&check(repository).reference].clone();
    assert_eq!(verdict("good"), Ok(()));
    assert!(
        matches!(verdict("unsigned"), Err(SignatureProblem::Missing(why)) if why.contains(&format!("sha256-{}.sig", test_digest(7).hex()))),
        "{:?}",
        verdict("unsigned")
    );
    assert!(
        matches!(verdict("other"), Err(SignatureProblem::Invalid(why)) if why.contains("signs another image"))
    );
    assert!(
        matches!(verdict("down"), Err(SignatureProblem::Unverified(why)) if why.contains("connection refused"))
    );
    let mut asked = registry.asked.into_inner().unwrap();
    asked.sort();
    assert_eq!(
        asked.len(),
        3,
        "a verified image costs no extra HEAD: {asked:?}"
    );
}
