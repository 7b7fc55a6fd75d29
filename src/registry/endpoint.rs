//! Where a registry lives: its base URL (Docker Hub's API host, plain HTTP for loopback and
//! `insecure` registries), the paths refit asks for, and the HTTP client with the registry's
//! own CA. No requests are sent here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::ImageRef;

/// Docker Hub as normalised references name it.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's registry API answers on.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Spellings of Docker Hub accepted in refit's configuration (allowed list, `[registries]`
/// keys), mapped to the host normalised references carry.
pub(crate) fn canonical_registry(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DOCKER_HUB.to_string()
        }
        other => other.to_string(),
    }
}

/// `http://` or `https://` plus the API host of `registry`, without a trailing slash.
pub(crate) fn base_url(registry: &str, plain_http: bool) -> String {
    let scheme = if plain_http { "http" } else { "https" };
    let host = if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    };
    format!("{scheme}://{host}")
}

/// Whether refit speaks plain HTTP to `registry`: when it is marked `insecure`, or when it is on
/// loopback (which Docker lets speak HTTP) and no CA is known for it. A CA file for a loopback
/// registry (`ca_file`, or Docker's `certs.d`) says it serves TLS, so refit uses TLS with it.
pub(crate) fn uses_plain_http(registry: &str, insecure: bool, ca_known: bool) -> bool {
    insecure || (is_loopback(registry) && !ca_known)
}

/// Loopback registries (`localhost`, 127.0.0.0/8, `::1`) speak plain HTTP, as Docker allows.
pub(crate) fn is_loopback(registry: &str) -> bool {
    // Any repository will do: the reference is only a vehicle for the host check.
    format!("{registry}/x")
        .parse::<ImageRef>()
        .is_ok_and(|r| r.registry() == registry && r.is_loopback_registry())
}

pub(crate) fn ping_url(base: &str) -> String {
    format!("{base}/v2/")
}

/// `<base>/v2/<repository>/manifests/<digest or tag>`; a digest wins when a reference has
/// both, as Docker resolves `name:tag@digest`.
pub(crate) fn manifest_url(base: &str, reference: &ImageRef) -> String {
    let target = match (reference.digest(), reference.tag()) {
        (Some(digest), _) => digest.to_string(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => "latest".to_string(),
    };
    format!("{base}/v2/{}/manifests/{target}", reference.repository())
}

/// `<base>/v2/<repository>/tags/list`: the first page of a repository's tags. No `n`: the
/// registry's own page size, whose next page it names in a `Link` header.
pub(crate) fn tags_url(base: &str, reference: &ImageRef) -> String {
    format!("{base}/v2/{}/tags/list", reference.repository())
}

/// The CA file for `registry`: the configured one, else Docker's
/// `<certs_dir>/<host>/ca.crt` when it exists.
pub(crate) fn ca_file_for(
    registry: &str,
    configured: Option<&Path>,
    certs_dir: &Path,
) -> Option<PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_path_buf());
    }
    let docker_ca = certs_dir.join(registry).join("ca.crt");
    docker_ca.is_file().then_some(docker_ca)
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("refit/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
}

/// A client trusting the system's roots (reqwest's platform verifier).
pub(crate) fn default_client(timeout: Duration) -> Result<reqwest::Client, String> {
    builder(timeout).build().map_err(|e| error_chain(&e))
}

/// A client with no roots at all, for plain-HTTP registries on a system without a CA bundle
/// (where `default_client` fails to build).
pub(crate) fn plain_http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    builder(timeout)
        .tls_certs_only(Vec::new())
        .build()
        .map_err(|e| error_chain(&e))
}

/// A client trusting the system's roots plus the certificates in `ca_file` (PEM).
pub(crate) fn client_with_ca(timeout: Duration, ca_file: &Path) -> Result<reqwest::Client, String> {
    let (_, certs) = read_ca(ca_file)?;
    builder(timeout)
        .tls_certs_merge(certs)
        .build()
        .map_err(|e| error_chain(&e))
}

/// The PEM text of `ca_file` and its certificates; an error unless it holds at least one.
pub(crate) fn read_ca(ca_file: &Path) -> Result<(Vec<u8>, Vec<reqwest::Certificate>), String> {
    let pem = std::fs::read(ca_file)
        .map_err(|e| format!("cannot read CA file {}: {e}", ca_file.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("invalid CA file {}: {}", ca_file.display(), error_chain(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {} holds no PEM certificate",
            ca_file.display()
        ));
    }
    Ok((pem, certs))
}

/// An error and its sources on one line. reqwest errors carry the URL, which holds no
/// secret (tokens and passwords travel in headers only).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(s: &str) -> ImageRef {
        s.parse().expect("valid reference")
    }

    #[test]
    fn docker_hub_maps_to_its_api_host() {
        assert_eq!(base_url("docker.io", false), "https://registry-1.docker.io");
        assert_eq!(base_url("ghcr.io", false), "https://ghcr.io");
        assert_eq!(base_url("127.0.0.1:5000", true), "http://127.0.0.1:5000");
        assert_eq!(base_url("[::1]:5000", true), "http://[::1]:5000");
        for alias in ["index.docker.io", "registry-1.docker.io", "docker.io/"] {
            assert_eq!(canonical_registry(alias), "docker.io");
        }
        assert_eq!(canonical_registry(" ghcr.io "), "ghcr.io");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "docker.io",
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn plain_http_for_insecure_and_for_loopback_without_a_ca() {
        assert!(uses_plain_http("127.0.0.1:5000", false, false));
        assert!(!uses_plain_http("127.0.0.1:5000", false, true));
        assert!(uses_plain_http("127.0.0.1:5000", true, true));
        assert!(!uses_plain_http("ghcr.io", false, false));
        assert!(uses_plain_http("reg.lan:5000", true, false));
    }

    #[test]
    fn manifest_urls_prefer_the_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let base = "https://registry-1.docker.io";
        assert_eq!(
            manifest_url(base, &image("nginx:1.27")),
            "https://registry-1.docker.io/v2/library/nginx/manifests/1.27"
        );
        assert_eq!(
            manifest_url(base, &image(&format!("nginx:1.27@{digest}"))),
            format!("https://registry-1.docker.io/v2/library/nginx/manifests/{digest}")
        );
        assert_eq!(
            manifest_url("http://127.0.0.1:5000", &image("127.0.0.1:5000/a/b/c")),
            "http://127.0.0.1:5000/v2/a/b/c/manifests/latest"
        );
        assert_eq!(ping_url(base), "https://registry-1.docker.io/v2/");
    }

    #[test]
    fn docker_certs_dir_is_used_when_present() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(ca_file_for("reg.example:5000", None, dir.path()), None);
        let host_dir = dir.path().join("reg.example:5000");
        std::fs::create_dir_all(&host_dir).expect("mkdir");
        std::fs::write(host_dir.join("ca.crt"), "x").expect("write");
        assert_eq!(
            ca_file_for("reg.example:5000", None, dir.path()),
            Some(host_dir.join("ca.crt"))
        );
        let configured = Path::new("/etc/refit/ca.pem");
        assert_eq!(
            ca_file_for("reg.example:5000", Some(configured), dir.path()),
            Some(configured.to_path_buf())
        );
    }

    #[test]
    fn bad_ca_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, "not a certificate").expect("write");
        let err = client_with_ca(Duration::from_secs(5), &path).unwrap_err();
        assert!(err.contains("ca.crt"), "{err}");
        let missing = client_with_ca(Duration::from_secs(5), &dir.path().join("none")).unwrap_err();
        assert!(missing.contains("cannot read CA file"), "{missing}");
    }
}
