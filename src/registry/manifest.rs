//! Manifest bodies and media types: the `Accept` lists refit sends, and the parsing of index
//! and image manifest bodies with oci-client's types. Pure; no HTTP.

use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciImageIndex, OciImageManifest, Versioned,
};
use sha2::Digest as _;

use super::IndexEntry;
use crate::model::{Digest, Platform};

/// Media types a HEAD accepts: an index or manifest list for multi-arch tags, an image
/// manifest otherwise. No q-values: every type is equally welcome.
pub(crate) fn accept_any() -> String {
    [
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        IMAGE_MANIFEST_LIST_MEDIA_TYPE,
        OCI_IMAGE_MEDIA_TYPE,
        IMAGE_MANIFEST_MEDIA_TYPE,
    ]
    .join(", ")
}

pub(crate) fn accept_index() -> String {
    [OCI_IMAGE_INDEX_MEDIA_TYPE, IMAGE_MANIFEST_LIST_MEDIA_TYPE].join(", ")
}

pub(crate) fn accept_image() -> String {
    [OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE].join(", ")
}

/// The media type without parameters (`; charset=utf-8`), lowercase.
pub(crate) fn bare_media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The `mediaType` a manifest body declares, if any.
pub(crate) fn declared_media_type(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Versioned>(body)
        .ok()
        .and_then(|v| v.media_type)
}

/// `sha256:<hex>` of a body: a manifest's digest when the registry does not say.
pub(crate) fn sha256_digest(body: &[u8]) -> Digest {
    let hash = sha2::Sha256::digest(body);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    // sha256 plus 64 lowercase hex digits is a valid digest by construction.
    format!("sha256:{hex}")
        .parse()
        .expect("a sha256 hex string is a valid digest")
}

/// The platform entries of an index body. Entries without a platform, or with an `unknown`
/// os or architecture (BuildKit attestation manifests), are left out: no container runs them.
pub(crate) fn index_entries(body: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let index: OciImageIndex =
        serde_json::from_slice(body).map_err(|e| format!("index does not parse: {e}"))?;
    let mut entries = Vec::with_capacity(index.manifests.len());
    for entry in index.manifests {
        let Some(platform) = entry.platform else {
            continue;
        };
        let (os, architecture) = (platform.os.to_string(), platform.architecture.to_string());
        if os == "unknown" || architecture == "unknown" || is_attestation(&entry.annotations) {
            continue;
        }
        let digest: Digest = entry
            .digest
            .parse()
            .map_err(|e| format!("index entry for {os}/{architecture}: {e}"))?;
        entries.push(IndexEntry {
            platform: Platform::new(
                &os,
                &architecture,
                platform.variant.as_deref().unwrap_or(""),
            ),
            digest,
        });
    }
    Ok(entries)
}

fn is_attestation(annotations: &Option<std::collections::BTreeMap<String, String>>) -> bool {
    annotations.as_ref().is_some_and(|a| {
        a.get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
    })
}

/// The config blob digest of an image manifest body.
pub(crate) fn config_digest(body: &[u8]) -> Result<Digest, String> {
    let manifest: OciImageManifest =
        serde_json::from_slice(body).map_err(|e| format!("image manifest does not parse: {e}"))?;
    manifest
        .config
        .digest
        .parse()
        .map_err(|e| format!("image manifest config: {e}"))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Manifest bodies shared by this module's tests and the stub-registry tests.

    pub fn digest(seed: u8) -> String {
        format!("sha256:{}", format!("{seed:02x}").repeat(32))
    }

    /// A BuildKit-style multi-arch index: amd64, arm64/v8, arm/v7 and an attestation entry.
    pub fn index_body() -> String {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(1),
                 "size": 100, "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(2),
                 "size": 100, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(3),
                 "size": 100, "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(4),
                 "size": 100, "platform": {"architecture": "unknown", "os": "unknown"},
                 "annotations": {"vnd.docker.reference.digest": digest(1),
                                 "vnd.docker.reference.type": "attestation-manifest"}}
            ]
        })
        .to_string()
    }

    pub fn image_manifest_body() -> String {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": 1000, "digest": digest(9)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 2000, "digest": digest(10)}]
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn index_entries_keep_platforms_and_skip_attestations() {
        let entries = index_entries(index_body().as_bytes()).expect("parses");
        let shown: Vec<String> = entries
            .iter()
            .map(|e| format!("{} {}", e.platform, e.digest.short()))
            .collect();
        assert_eq!(
            shown,
            [
                "linux/amd64 010101010101",
                "linux/arm64/v8 020202020202",
                "linux/arm/v7 030303030303",
            ]
        );
    }

    #[test]
    fn an_image_manifest_is_not_an_index() {
        assert!(index_entries(image_manifest_body().as_bytes()).is_err());
        assert!(index_entries(b"{").is_err());
    }

    #[test]
    fn config_digest_of_a_manifest() {
        let digest = config_digest(image_manifest_body().as_bytes()).expect("parses");
        assert_eq!(digest.to_string(), fixtures::digest(9));
        assert!(config_digest(index_body().as_bytes()).is_err());
    }

    #[test]
    fn media_types_and_digests() {
        assert_eq!(
            bare_media_type("application/vnd.oci.image.index.v1+json; charset=utf-8"),
            OCI_IMAGE_INDEX_MEDIA_TYPE
        );
        assert_eq!(
            declared_media_type(index_body().as_bytes()).as_deref(),
            Some(OCI_IMAGE_INDEX_MEDIA_TYPE)
        );
        assert_eq!(
            sha256_digest(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(accept_any().contains(IMAGE_MANIFEST_LIST_MEDIA_TYPE));
    }
}
