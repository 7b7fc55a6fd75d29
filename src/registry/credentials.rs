//! Where registry credentials come from, first match wins: refit's `[registries."host"]`
//! username and password, then Docker's `config.json` (`auths`, `credsStore`, `credHelpers`)
//! read through `docker_credential`. Lookups never log a secret or a helper's output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use docker_credential::{CredentialRetrievalError, DockerCredential};
use tracing::{debug, warn};

use super::Credentials;
use super::endpoint::DOCKER_HUB;
use crate::secret::Secret;

/// The key `docker login` stores Docker Hub credentials under.
const DOCKER_HUB_LOGIN_KEY: &str = "https://index.docker.io/v1/";

/// Credentials from refit's own configuration, when both username and password are set.
pub(crate) fn from_settings(
    registry: &str,
    username: Option<&str>,
    password: Option<&Secret>,
) -> Option<Credentials> {
    match (username, password) {
        (Some(username), Some(password)) if !username.is_empty() => Some(Credentials {
            username: username.to_string(),
            password: password.clone(),
            server: server_address(registry),
        }),
        (None, Some(_)) | (Some(_), None) => {
            warn!(
                registry,
                "registry settings need both username and password; ignoring them"
            );
            None
        }
        _ => None,
    }
}

/// The server address Docker's own clients put in `X-Registry-Auth`.
fn server_address(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_LOGIN_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// The keys tried in `config.json`, in order. `auths` keys match in any Docker Hub spelling;
/// `credHelpers` keys match exactly, so Hub is tried under each spelling people use.
pub(crate) fn lookup_keys(registry: &str) -> Vec<String> {
    if registry == DOCKER_HUB {
        [DOCKER_HUB_LOGIN_KEY, "index.docker.io", DOCKER_HUB]
            .map(str::to_string)
            .to_vec()
    } else {
        vec![registry.to_string()]
    }
}

/// `<dir>/config.json`, where `dir` is the configured directory, else `$DOCKER_CONFIG`,
/// else `~/.docker` (as the Docker CLI looks).
pub(crate) fn docker_config_file(dir: Option<&Path>) -> Option<PathBuf> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker")))?,
    };
    Some(dir.join("config.json"))
}

/// Looks `registry` up in Docker's config. Credential helpers are programs that may hang, so
/// the lookup runs on the blocking pool under `timeout`; a helper still running then is left
/// behind and the registry is treated as anonymous.
pub(crate) async fn from_docker_config(
    registry: &str,
    file: Option<PathBuf>,
    timeout: Duration,
) -> Option<Credentials> {
    let file = file?;
    let keys = lookup_keys(registry);
    let lookup = tokio::task::spawn_blocking(move || lookup_blocking(&file, &keys));
    match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(found)) => found.map(|(key, username, password)| Credentials {
            username,
            password,
            server: key,
        }),
        Ok(Err(join_error)) => {
            warn!(registry, error = %join_error, "docker credential lookup failed");
            None
        }
        Err(_) => {
            warn!(
                registry,
                timeout_s = timeout.as_secs(),
                "docker credential lookup timed out"
            );
            None
        }
    }
}

/// The first key with a username and password, as `(key, username, password)`.
fn lookup_blocking(file: &Path, keys: &[String]) -> Option<(String, String, Secret)> {
    let config = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            debug!(path = %file.display(), "no docker config file");
            return None;
        }
        Err(e) => {
            warn!(path = %file.display(), error = %e, "cannot read docker config file");
            return None;
        }
    };
    for key in keys {
        match docker_credential::get_credential_from_reader(config.as_slice(), key) {
            Ok(DockerCredential::UsernamePassword(username, password)) => {
                debug!(key = %key, path = %file.display(), "credentials from docker config");
                return Some((key.clone(), username, Secret::new(password)));
            }
            Ok(DockerCredential::IdentityToken(_)) => {
                debug!(key = %key, "docker config holds an identity token; using no credentials");
                return None;
            }
            // Not stored under this key (a helper answers "credentials not found" by failing).
            Err(
                CredentialRetrievalError::NoCredentialConfigured
                | CredentialRetrievalError::HelperFailure { .. },
            ) => continue,
            Err(CredentialRetrievalError::ConfigReadError) => {
                warn!(path = %file.display(), "docker config file is not valid JSON");
                return None;
            }
            // The remaining variants' messages hold no secret (HelperFailure, which carries
            // the helper's output, is handled above).
            Err(other) => {
                warn!(key = %key, error = %other, "docker credential lookup failed");
                return None;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(dir: &Path, json: &str) -> PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, json).expect("write config");
        path
    }

    #[test]
    fn docker_hub_is_looked_up_under_login_key_first() {
        assert_eq!(
            lookup_keys("docker.io"),
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "docker.io"
            ]
        );
        assert_eq!(lookup_keys("ghcr.io"), ["ghcr.io"]);
    }

    #[test]
    fn config_dir_override_wins() {
        let file = docker_config_file(Some(Path::new("/tmp/dc"))).expect("a path");
        assert_eq!(file, Path::new("/tmp/dc/config.json"));
    }

    #[test]
    fn settings_need_both_fields() {
        let secret = Secret::new("pw");
        let creds = from_settings("docker.io", Some("alice"), Some(&secret)).expect("creds");
        assert_eq!(creds.server, "https://index.docker.io/v1/");
        assert!(from_settings("ghcr.io", Some("alice"), None).is_none());
        assert!(from_settings("ghcr.io", None, None).is_none());
    }

    #[tokio::test]
    async fn auths_entry_with_any_docker_hub_spelling() {
        let dir = tempfile::tempdir().expect("temp dir");
        // base64("bob:hunter2")
        let file = write_config(
            dir.path(),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"Ym9iOmh1bnRlcjI="}}}"#,
        );
        let creds = from_docker_config("docker.io", Some(file.clone()), Duration::from_secs(5))
            .await
            .expect("found");
        assert_eq!(creds.username, "bob");
        assert_eq!(creds.password.expose(), "hunter2");
        assert!(
            from_docker_config("ghcr.io", Some(file), Duration::from_secs(5))
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn identity_tokens_missing_and_broken_files_mean_anonymous() {
        let dir = tempfile::tempdir().expect("temp dir");
        let timeout = Duration::from_secs(5);
        let missing = dir.path().join("none.json");
        assert!(
            from_docker_config("ghcr.io", Some(missing), timeout)
                .await
                .is_none()
        );
        let broken = write_config(dir.path(), "{not json");
        assert!(
            from_docker_config("ghcr.io", Some(broken), timeout)
                .await
                .is_none()
        );
        let token = write_config(
            dir.path(),
            r#"{"auths":{"ghcr.io":{"identitytoken":"refresh-me"}}}"#,
        );
        assert!(
            from_docker_config("ghcr.io", Some(token), timeout)
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_missing_credential_helper_means_anonymous() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = write_config(
            dir.path(),
            r#"{"credHelpers":{"ghcr.io":"refit-test-no-such-helper"}}"#,
        );
        let found = from_docker_config("ghcr.io", Some(file), Duration::from_secs(5)).await;
        assert!(found.is_none());
    }
}
