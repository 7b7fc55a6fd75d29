//! The signing side of cosign, for tests: P-256 key pairs and signatures made with the `openssl`
//! command, and a signature pushed the way `cosign sign --key` (v2) stores it: a simple-signing
//! payload as the one layer of an OCI manifest tagged `sha256-<hex>.sig`, its base64 signature in
//! the layer's `dev.cosignproject.cosign/signature` annotation. Uploads speak the registry API
//! with curl (plain HTTP, loopback).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::token::{STANDARD, base64};
use super::{PushedImage, TestEnv};

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// A P-256 key pair in PEM files (`<name>.key`, SEC1; `<name>.pub`, SubjectPublicKeyInfo).
pub struct CosignKey {
    pub private: PathBuf,
    pub public: PathBuf,
}

impl CosignKey {
    pub fn generate(dir: &Path, name: &str) -> CosignKey {
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        openssl(
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
            ],
            &private,
        );
        let private_arg = private.to_str().expect("a UTF-8 path");
        openssl(&["ec", "-pubout", "-in", private_arg, "-out"], &public);
        CosignKey { private, public }
    }

    /// The ECDSA P-256 SHA-256 signature of `payload`, ASN.1 DER in standard base64 (cosign's form).
    pub fn sign(&self, payload: &[u8]) -> String {
        let private = self.private.to_str().expect("a UTF-8 path");
        let der = openssl_stdout(&["dgst", "-sha256", "-sign", private], payload);
        base64(&der, STANDARD)
    }
}

/// `openssl ARGS OUT`, panicking with its stderr on failure.
fn openssl(args: &[&str], out: &Path) {
    let output = Command::new("openssl")
        .args(args)
        .arg(out)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl_stdout(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write to openssl");
    let output = child.wait_with_output().expect("wait for openssl");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

pub fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The payload `cosign sign` signs: the image's repository and manifest digest.
pub fn simple_signing_payload(repository: &str, digest: &str) -> Vec<u8> {
    let payload = json!({
        "critical": {
            "identity": { "docker-reference": repository },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature"
        },
        "optional": null
    });
    serde_json::to_vec(&payload).expect("JSON")
}

impl TestEnv {
    /// Signs `image` (its repository and digest) with `key` and pushes the signature.
    pub fn sign_image(&self, image: &PushedImage, key: &CosignKey) {
        let payload = simple_signing_payload(&image.repository, &image.digest);
        self.push_signature(image, &payload, key);
    }

    /// Pushes `payload` signed by `key` as the signature of `image`: tag `sha256-<hex>.sig` of
    /// its repository (in the registry of its reference). Removed with the env when in the shared
    /// registry.
    pub fn push_signature(&self, image: &PushedImage, payload: &[u8], key: &CosignKey) {
        let registry = image.reference.split('/').next().unwrap_or_default();
        let api = Api {
            base: format!("http://{registry}/v2/{}", image.path),
            dir: self.dir().to_path_buf(),
        };
        let config = b"{}";
        let config_digest = api.put_blob(config);
        let layer_digest = api.put_blob(payload);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": { "mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest },
            "layers": [{
                "mediaType": SIMPLE_SIGNING,
                "size": payload.len(),
                "digest": layer_digest,
                "annotations": { "dev.cosignproject.cosign/signature": key.sign(payload) }
            }]
        });
        let body = serde_json::to_vec(&manifest).expect("JSON");
        let tag = image.digest.replace(':', "-") + ".sig";
        api.put_manifest(&tag, &body);
        if registry == self.registry() {
            self.created()
                .manifests
                .push((image.path.clone(), sha256(&body)));
        }
    }
}

/// One repository's registry API over curl (the harness's own client sends no bodies).
struct Api {
    /// `http://<registry>/v2/<path>`.
    base: String,
    dir: PathBuf,
}

impl Api {
    fn curl(&self, args: &[&str]) -> String {
        let output = Command::new("curl")
            .args(["-sS", "--fail-with-body"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(
            output.status.success(),
            "curl {}: {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn body_file(&self, bytes: &[u8]) -> String {
        let path = self.dir.join(format!("sig-body-{}", &sha256(bytes)[7..]));
        std::fs::write(&path, bytes).expect("write a request body");
        format!("@{}", path.display())
    }

    /// Monolithic upload: POST for a session, PUT the bytes with their digest.
    fn put_blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let url = format!("{}/blobs/uploads/", self.base);
        let headers = self.curl(&["-X", "POST", "-D", "-", "-o", "/dev/null", &url]);
        let location = headers
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no Location in the upload answer:\n{headers}"));
        let location = match location.strip_prefix('/') {
            Some(path) => {
                let origin = self.base.split("/v2/").next().unwrap_or_default();
                format!("{origin}/{path}")
            }
            None => location,
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &self.body_file(bytes),
            &format!("{location}{separator}digest={digest}"),
        ]);
        digest
    }

    fn put_manifest(&self, tag: &str, body: &[u8]) {
        let content_type = format!("Content-Type: {OCI_MANIFEST}");
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            &content_type,
            "--data-binary",
            &self.body_file(body),
            &format!("{}/manifests/{tag}", self.base),
        ]);
    }
}
