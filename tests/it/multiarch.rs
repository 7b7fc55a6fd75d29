//! Multi-arch images through the real binary. Docker 20.10 has no usable `docker manifest` for a
//! plain-HTTP registry, so the test builds the index itself over the registry API (distribution 2.8
//! on loopback, no auth): the engine's native image as built and pushed by the harness, plus a fake
//! image for another architecture (a copy of the config blob with another `architecture`, the same
//! layers), listed in a Docker manifest list under the tag.
//!
//! A container runs `<repo>:<tag>` pulled from that list, so its image's RepoDigests hold the
//! index digest. Then: a changed index whose native entry is unchanged is no update; a new native
//! entry is one, and updating to it ends the loop.

use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::{
    CountingRegistry, ImageSpec, LoggedRequest, TestEnv, docker_ok, manifest_digest,
};

const MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// `--label refit.enable=true`: containers are selected by opt-in by default.
const ENABLED: [&str; 2] = ["--label", "refit.enable=true"];

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// One manifest as an index lists it.
#[derive(Clone, Debug)]
struct Entry {
    digest: String,
    size: usize,
    media_type: String,
    architecture: String,
}

/// The registry API, spoken with curl (the harness's own client sends no bodies).
struct Api<'a> {
    addr: &'a str,
    /// The repository's path, `<prefix>/app`.
    path: &'a str,
    env: &'a TestEnv,
}

impl Api<'_> {
    fn url(&self, rest: &str) -> String {
        format!("http://{}/v2/{}/{rest}", self.addr, self.path)
    }

    /// curl with `args`; its stdout, or a panic showing stderr.
    fn curl(&self, args: &[&str]) -> Vec<u8> {
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
        output.stdout
    }

    /// A body for curl's `--data-binary @file`.
    fn body_file(&self, bytes: &[u8]) -> String {
        let path = self.env.dir().join(format!("body-{}", &sha256(bytes)[7..]));
        std::fs::write(&path, bytes).unwrap();
        format!("@{}", path.display())
    }

    fn get_manifest(&self, reference: &str) -> Vec<u8> {
        let accept = format!("Accept: {MANIFEST_V2}");
        self.curl(&["-H", &accept, &self.url(&format!("manifests/{reference}"))])
    }

    fn get_blob(&self, digest: &str) -> Vec<u8> {
        self.curl(&["-L", &self.url(&format!("blobs/{digest}"))])
    }

    /// Monolithic upload: POST for a session, PUT the bytes with their digest.
    fn put_blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let headers = self.curl(&[
            "-X",
            "POST",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &self.url("blobs/uploads/"),
        ]);
        let headers = String::from_utf8_lossy(&headers);
        let location = headers
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("location")
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no Location in the upload answer:\n{headers}"));
        let location = if location.starts_with('/') {
            format!("http://{}{location}", self.addr)
        } else {
            location
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

    /// PUTs a manifest under `reference` (a tag, or its digest); returns its digest.
    fn put_manifest(&self, reference: &str, media_type: &str, body: &[u8]) -> String {
        let content_type = format!("Content-Type: {media_type}");
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            &content_type,
            "--data-binary",
            &self.body_file(body),
            &self.url(&format!("manifests/{reference}")),
        ]);
        sha256(body)
    }

    /// The manifest `digest` (the engine's native image) as an index entry.
    fn entry(&self, digest: &str, architecture: &str) -> Entry {
        let body = self.get_manifest(digest);
        assert_eq!(
            sha256(&body),
            digest,
            "the registry returns the pushed bytes"
        );
        let manifest: Value = serde_json::from_slice(&body).unwrap();
        Entry {
            digest: digest.to_owned(),
            size: body.len(),
            media_type: manifest["mediaType"].as_str().unwrap().to_owned(),
            architecture: architecture.to_owned(),
        }
    }

    /// A fake image for `architecture`: `native`'s manifest with a copy of its config that names
    /// `architecture` (and `salt`, so each call gives a new digest), the same layers.
    fn fake_platform(&self, native: &Entry, architecture: &str, salt: &str) -> Entry {
        let mut manifest: Value =
            serde_json::from_slice(&self.get_manifest(&native.digest)).unwrap();
        let config_digest = manifest["config"]["digest"].as_str().unwrap().to_owned();
        let mut config: Value = serde_json::from_slice(&self.get_blob(&config_digest)).unwrap();
        config["architecture"] = json!(architecture);
        config["config"]["Labels"]["refit.fake-platform"] = json!(salt);
        let config = serde_json::to_vec(&config).unwrap();
        manifest["config"]["digest"] = json!(self.put_blob(&config));
        manifest["config"]["size"] = json!(config.len());
        let body = serde_json::to_vec(&manifest).unwrap();
        let digest = sha256(&body);
        self.put_manifest(&digest, &native.media_type, &body);
        Entry {
            digest,
            size: body.len(),
            media_type: native.media_type.clone(),
            architecture: architecture.to_owned(),
        }
    }

    /// PUTs a Docker manifest list of `entries` under `tag`; returns its digest.
    fn put_index(&self, tag: &str, entries: &[&Entry]) -> String {
        let manifests: Vec<Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "mediaType": e.media_type, "size": e.size, "digest": e.digest,
                    "platform": { "architecture": e.architecture, "os": "linux" }
                })
            })
            .collect();
        let index =
            json!({ "schemaVersion": 2, "mediaType": MANIFEST_LIST, "manifests": manifests });
        let body = serde_json::to_vec_pretty(&index).unwrap();
        let digest = self.put_manifest(tag, MANIFEST_LIST, &body);
        assert_eq!(
            manifest_digest(self.addr, self.path, tag),
            Some(digest.clone()),
            "the tag points at the new index"
        );
        digest
    }
}

/// The manifest GETs among `requests`, as their URIs.
fn manifest_gets(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/manifests/"))
        .map(|r| r.uri.clone())
        .collect()
}

#[test]
fn a_multi_arch_image_updates_only_when_its_own_platform_changes() {
    let env = TestEnv::new("multi_arch_own_platform");
    let registry = CountingRegistry::start();
    let native = docker_ok(&["version", "--format", "{{.Server.Arch}}"]);
    let foreign = if native == "arm64" { "amd64" } else { "arm64" };
    let spec = ImageSpec::new();

    let v1 = env.build_image_on(registry.addr(), "app", "1", &spec.clone().payload("v1"));
    let api = Api {
        addr: registry.addr(),
        path: &v1.path,
        env: &env,
    };
    let native1 = api.entry(&v1.digest, &native);
    let foreign1 = api.fake_platform(&native1, foreign, "one");
    let index1 = api.put_index("1", &[&native1, &foreign1]);

    // Pull the tag afresh: the engine picks its platform's entry and records the index digest.
    env.remove_local_image(&v1);
    assert!(!env.image_exists(&v1.id), "the image is gone locally");
    docker_ok(&["pull", &v1.reference]);
    let pulled = env.image_inspect(&v1.reference);
    assert_eq!(pulled["Id"], v1.id.as_str(), "the native entry was pulled");
    assert_eq!(pulled["Architecture"], native.as_str());
    assert_eq!(
        pulled["RepoDigests"],
        json!([format!("{}@{index1}", v1.repository)]),
        "RepoDigests hold the index digest"
    );
    let web = env.run("web", &ENABLED, &v1.reference);

    // (a) The index is unchanged: up to date, one HEAD.
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let counts = registry.counts();
    eprintln!("(a) unchanged index: {counts:?}");
    run.assert_code(0);
    let entry = run.container(&web.name);
    assert_eq!(entry["decision"], "up-to-date", "{entry:#}");
    assert_eq!(entry["current_digest"], index1.as_str(), "{entry:#}");
    assert_eq!(entry["available_digest"], index1.as_str(), "{entry:#}");
    assert_eq!(
        (
            counts.manifest_head,
            counts.manifest_get,
            counts.blob_head,
            counts.blob_get
        ),
        (1, 0, 0, 0),
        "{:#?}",
        registry.requests()
    );

    // (b) A new index whose native entry is the same manifest: still up to date.
    let foreign2 = api.fake_platform(&native1, foreign, "two");
    let index2 = api.put_index("1", &[&native1, &foreign2]);
    assert_ne!(index2, index1);
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let requests = registry.requests();
    let counts = registry.counts();
    eprintln!(
        "(b) new index, same native manifest: {counts:?}\n  GETs: {:?}",
        manifest_gets(&requests)
    );
    run.assert_code(0);
    let entry = run.container(&web.name);
    assert_eq!(entry["decision"], "up-to-date", "{entry:#}");
    assert_eq!(entry["current_digest"], index1.as_str(), "{entry:#}");
    assert_eq!(counts.manifest_head, 1, "{requests:#?}");
    assert_eq!((counts.blob_head, counts.blob_get), (0, 0), "{requests:#?}");
    let gets = manifest_gets(&requests);
    let index_gets = gets.iter().filter(|u| u.ends_with(&index2)).count();
    assert_eq!(index_gets, 1, "one GET of the new index: {gets:?}");
    assert!(
        gets.iter()
            .all(|u| u.ends_with(&index2) || u.ends_with(&native1.digest)),
        "only the index and the native manifest are fetched: {gets:?}"
    );

    // (c) A new native manifest: an update.
    let v2 = env.push_new_version_on(registry.addr(), "app", "1", &spec);
    let native2 = api.entry(&v2.digest, &native);
    let index3 = api.put_index("1", &[&native2, &foreign2]);
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let requests = registry.requests();
    let counts = registry.counts();
    eprintln!(
        "(c) new native manifest: {counts:?}\n  GETs: {:?}",
        manifest_gets(&requests)
    );
    run.assert_code(0);
    let entry = run.container(&web.name);
    assert_eq!(entry["decision"], "update", "{entry:#}");
    assert_eq!(entry["current_digest"], index1.as_str(), "{entry:#}");
    assert_eq!(entry["available_digest"], index3.as_str(), "{entry:#}");
    assert_eq!(counts.manifest_head, 1, "{requests:#?}");
    assert_eq!((counts.blob_head, counts.blob_get), (0, 0), "{requests:#?}");
    let gets = manifest_gets(&requests);
    assert_eq!(
        gets.iter().filter(|u| u.ends_with(&index3)).count(),
        1,
        "one GET of the new index: {gets:?}"
    );

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    let entry = run.container(&web.name);
    assert_eq!(entry["outcome"], "updated", "{entry:#}");
    let successor = env.inspect(&web.name);
    assert_ne!(successor["Id"], web.id.as_str(), "recreated");
    assert_eq!(
        successor["Image"],
        v2.id.as_str(),
        "runs the new native image"
    );
    assert_eq!(
        successor["Config"]["Image"],
        v1.reference.as_str(),
        "keeps its tag"
    );
    assert_eq!(env.state(&web.name), "running");
    let image = env.image_inspect(&v2.id);
    assert_eq!(image["Architecture"], native.as_str());

    // No update loop: the next check is up to date, and sends no blob request.
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let requests = registry.requests();
    let counts = registry.counts();
    eprintln!(
        "(d) after the update: {counts:?}\n  GETs: {:?}",
        manifest_gets(&requests)
    );
    run.assert_code(0);
    let entry = run.container(&web.name);
    assert_eq!(entry["decision"], "up-to-date", "{entry:#}");
    assert_eq!(entry["available_digest"], index3.as_str(), "{entry:#}");
    assert_eq!(counts.manifest_head, 1, "{requests:#?}");
    assert_eq!((counts.blob_head, counts.blob_get), (0, 0), "{requests:#?}");
}
