//! `OciRegistry` against a real registry: distribution 2.8 (`/usr/bin/docker-registry`),
//! started on a free loopback port with temporary storage, images pushed over its HTTP API.
//! Skipped, with a message, where the binary is not installed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::super::manifest::sha256_digest;
use super::*;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A running distribution registry, stopped and removed on drop.
struct Distribution {
    child: Child,
    host: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Distribution {
    async fn start() -> Option<Distribution> {
        // scripts/test-env.sh installs it; a test that passed without it would prove nothing.
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} missing: run scripts/test-env.sh"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write registry config");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Distribution {
            child,
            host,
            // Plain HTTP only: no system roots needed, so no panic on a host without a CA bundle.
            http: reqwest::Client::builder()
                .tls_certs_only(Vec::new())
                .build()
                .expect("plain HTTP client"),
            _dir: dir,
        };
        registry.wait_ready().await;
        Some(registry)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if let Ok(r) = self.http.get(self.url("/v2/")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("docker-registry did not start on {}", self.host);
    }

    /// Monolithic blob upload: POST for a session, PUT the bytes with their digest.
    async fn push_blob(&self, repository: &str, bytes: &[u8]) -> Digest {
        let digest = sha256_digest(bytes);
        let started = self
            .http
            .post(self.url(&format!("/v2/{repository}/blobs/uploads/")))
            .send()
            .await
            .expect("start upload");
        assert_eq!(started.status(), 202, "upload session");
        let location = started.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let location = if location.starts_with('/') {
            self.url(&location)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = self
            .http
            .put(format!("{location}{separator}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload blob");
        assert_eq!(put.status(), 201, "blob stored");
        digest
    }

    async fn push_manifest(&self, repository: &str, reference: &str, media_type: &str, body: &str) {
        let put = self
            .http
            .put(self.url(&format!("/v2/{repository}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(body.to_string())
            .send()
            .await
            .expect("put manifest");
        assert_eq!(put.status(), 201, "manifest stored: {:?}", put.text().await);
    }

    /// Pushes a one-layer image for `architecture`; returns (manifest body, config digest).
    async fn push_image(&self, repository: &str, architecture: &str) -> (String, Digest) {
        let config = json!({"architecture": architecture, "os": "linux",
                            "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string();
        let layer = format!("layer for {architecture}").into_bytes();
        let config_digest = self.push_blob(repository, config.as_bytes()).await;
        let layer_digest = self.push_blob(repository, &layer).await;
        let manifest = json!({
            "schemaVersion": 2, "mediaType": MANIFEST_V2,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": config.len(), "digest": config_digest.to_string()},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": layer.len(), "digest": layer_digest.to_string()}]
        })
        .to_string();
        let digest = sha256_digest(manifest.as_bytes());
        self.push_manifest(repository, digest.as_str(), MANIFEST_V2, &manifest)
            .await;
        (manifest, config_digest)
    }
}

#[tokio::test]
async fn real_distribution_registry_heads_indexes_and_configs() {
    let Some(real) = Distribution::start().await else {
        return;
    };
    let repository = "refit/app";
    let (amd64, amd64_config) = real.push_image(repository, "amd64").await;
    let (arm64, _) = real.push_image(repository, "arm64").await;
    real.push_manifest(repository, "single", MANIFEST_V2, &amd64)
        .await;
    let list = json!({
        "schemaVersion": 2, "mediaType": MANIFEST_LIST,
        "manifests": [
            {"mediaType": MANIFEST_V2, "size": amd64.len(),
             "digest": sha256_digest(amd64.as_bytes()).to_string(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": MANIFEST_V2, "size": arm64.len(),
             "digest": sha256_digest(arm64.as_bytes()).to_string(),
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
        ]
    })
    .to_string();
    real.push_manifest(repository, "multi", MANIFEST_LIST, &list)
        .await;

    let registry = OciRegistry::new(RegistryOptions {
        docker_config_dir: Some("/nonexistent/refit-test-docker-config".into()),
        ..RegistryOptions::default()
    })
    .expect("registry client");
    let reference = |rest: &str| -> ImageRef {
        format!("{}/{repository}{rest}", real.host)
            .parse()
            .expect("reference")
    };

    let single = registry
        .head_manifest(&reference(":single"))
        .await
        .expect("head single");
    assert_eq!(single.digest, sha256_digest(amd64.as_bytes()));
    assert_eq!(single.media_type, MANIFEST_V2);

    let multi = registry
        .head_manifest(&reference(":multi"))
        .await
        .expect("head multi");
    assert!(multi.is_index());
    assert_eq!(multi.digest, sha256_digest(list.as_bytes()));
    let counts = registry.request_counts()[&real.host];
    assert_eq!(
        (counts.ping, counts.manifest_head, counts.total()),
        (1, 2, 3)
    );

    let by_digest = reference("").at_digest(&multi.digest);
    let entries = registry
        .index_entries(&by_digest)
        .await
        .expect("index entries");
    let platforms: Vec<String> = entries.iter().map(|e| e.platform.to_string()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    let config = registry
        .config_digest(&reference("").at_digest(&entries[0].digest))
        .await
        .expect("config digest");
    assert_eq!(config, amd64_config);

    let err = registry
        .head_manifest(&reference(":missing"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}
