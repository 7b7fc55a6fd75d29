//! `OciRegistry`: the `Registry` trait over HTTP with reqwest. oci-client is used for its
//! manifest types only (its request path pings `/v2/` before every call and answers a 429 by
//! GETting the manifest, which Docker Hub counts as a pull).
//!
//! An `OciRegistry` lives as long as refit runs (the daemon keeps one): tokens are cached for
//! their lifetime across passes, while what a registry said about authentication, the
//! credentials and the retry budget are per pass (`Registry::begin_pass` forgets them).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use tracing::debug;

use super::endpoint::{self, canonical_registry};
use super::manifest::{self, accept_any, accept_image, accept_index};
use super::retry::{RetryPolicy, WaitBudget};
use super::transport::{Host, Request, RequestCounts, RequestKind, Transport, read_body};
use super::{
    Credentials, Error, IndexEntry, ManifestHead, Registry, RequestResult, credentials, tags,
};
use crate::model::{Digest, ImageRef};
use crate::secret::Secret;

/// Distribution refuses manifests above 4 MiB; so does refit.
const MANIFEST_LIMIT: usize = 4 << 20;

/// One `[registries."host"]` entry of the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    pub username: Option<String>,
    /// Read from `password_file` by the configuration layer.
    pub password: Option<Secret>,
    /// PEM CA bundle trusted for this registry, on top of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP (loopback registries always are).
    pub insecure: bool,
}

#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Registry hosts refit may talk to (`trust.allowed_registries`); empty: any.
    pub allowed_registries: Vec<String>,
    /// Per-registry settings, keyed by host as references name it (`docker.io`, `ghcr.io`,
    /// `127.0.0.1:5000`); Docker Hub's other spellings are accepted.
    pub registries: BTreeMap<String, RegistrySettings>,
    /// Directory holding Docker's `config.json`; `None`: `$DOCKER_CONFIG`, else `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// Docker's per-registry CA directory (`<dir>/<host>/ca.crt`).
    pub docker_certs_dir: PathBuf,
    /// Timeout of one HTTP request (connect included).
    pub request_timeout: Duration,
    /// Timeout of one Docker credential lookup (credential helpers are external programs).
    pub credential_timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            allowed_registries: Vec::new(),
            registries: BTreeMap::new(),
            docker_config_dir: None,
            docker_certs_dir: PathBuf::from("/etc/docker/certs.d"),
            request_timeout: Duration::from_secs(30),
            credential_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// The HTTP `Registry`. Exactly one manifest HEAD per `head_manifest` call once a registry's
/// `/v2/` answer and token are known; see `request_counts` for what was sent.
pub struct OciRegistry {
    allowed: Vec<String>,
    settings: BTreeMap<String, RegistrySettings>,
    docker_config_dir: Option<PathBuf>,
    docker_certs_dir: PathBuf,
    request_timeout: Duration,
    credential_timeout: Duration,
    /// Trusts the system roots; `Err` on a system without a CA bundle.
    system_client: Result<reqwest::Client, String>,
    /// No roots at all: for plain-HTTP registries when `system_client` is unavailable.
    plain_client: Result<reqwest::Client, String>,
    /// Clients for registries with a configured `ca_file`, built up front so that a bad file
    /// is reported at start.
    ca_clients: BTreeMap<String, reqwest::Client>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    transport: Transport,
}

impl OciRegistry {
    /// Builds the clients. Fails only on a configured `ca_file` that cannot be used; a system
    /// without CA certificates fails HTTPS requests later, with `Error::Setup`.
    pub fn new(options: RegistryOptions) -> Result<OciRegistry, Error> {
        let settings: BTreeMap<String, RegistrySettings> = options
            .registries
            .into_iter()
            .map(|(host, s)| (canonical_registry(&host), s))
            .collect();
        let mut ca_clients = BTreeMap::new();
        for (registry, s) in &settings {
            if let Some(ca_file) = &s.ca_file {
                let client = endpoint::client_with_ca(options.request_timeout, ca_file).map_err(
                    |message| Error::Setup {
                        registry: registry.clone(),
                        message,
                    },
                )?;
                ca_clients.insert(registry.clone(), client);
            }
        }
        let system_client = endpoint::default_client(options.request_timeout);
        if let Err(message) = &system_client {
            debug!(error = %message, "no system CA certificates; only plain-HTTP registries and those with a CA file work");
        }
        Ok(OciRegistry {
            allowed: options
                .allowed_registries
                .iter()
                .map(|r| canonical_registry(r))
                .collect(),
            settings,
            docker_config_dir: options.docker_config_dir,
            docker_certs_dir: options.docker_certs_dir,
            request_timeout: options.request_timeout,
            credential_timeout: options.credential_timeout,
            plain_client: endpoint::plain_http_client(options.request_timeout),
            system_client,
            ca_clients,
            hosts: Mutex::new(HashMap::new()),
            transport: Transport::new(options.retry),
        })
    }

    /// Requests sent so far, per registry host, by kind.
    pub fn request_counts(&self) -> BTreeMap<String, RequestCounts> {
        // A poisoned lock only means a panic elsewhere; the counters are still sound.
        let counts = self
            .transport
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        counts.clone()
    }

    /// Forgets every registry's per-pass state (the `/v2/` answer, credentials, the retry
    /// budget); the token cache lives on in `transport`.
    fn forget_hosts(&self) {
        // A poisoned lock only means a panic elsewhere; clearing the map is still sound.
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Whether refit may talk to `registry` (`trust.allowed_registries`).
    pub fn is_allowed(&self, registry: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|a| a == registry)
    }

    /// The state for `registry`, created on first use. Checks the allowed list before
    /// anything else, so a registry that is not allowed never sees a request.
    fn host(&self, registry: &str) -> Result<Arc<Host>, Error> {
        if !self.is_allowed(registry) {
            return Err(Error::NotAllowed {
                registry: registry.to_string(),
            });
        }
        // A poisoned lock only means a panic elsewhere; the map is still sound.
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(host) = hosts.get(registry) {
            return Ok(host.clone());
        }
        let settings = self.settings.get(registry);
        let ca_file = endpoint::ca_file_for(
            registry,
            settings.and_then(|s| s.ca_file.as_deref()),
            &self.docker_certs_dir,
        );
        let insecure = settings.is_some_and(|s| s.insecure);
        let plain_http = endpoint::uses_plain_http(registry, insecure, ca_file.is_some());
        let host = Arc::new(Host {
            registry: registry.to_string(),
            base: endpoint::base_url(registry, plain_http),
            plain_http,
            client: self.client_for(registry, plain_http)?,
            challenge: tokio::sync::Mutex::new(None),
            credentials: tokio::sync::OnceCell::new(),
            budget: WaitBudget::new(self.transport.retry.budget),
        });
        hosts.insert(registry.to_string(), host.clone());
        Ok(host)
    }

    fn client_for(&self, registry: &str, plain_http: bool) -> Result<reqwest::Client, Error> {
        let setup = |message: String| Error::Setup {
            registry: registry.to_string(),
            message,
        };
        if let Some(client) = self.ca_clients.get(registry) {
            return Ok(client.clone());
        }
        if let Some(ca_file) = endpoint::ca_file_for(registry, None, &self.docker_certs_dir) {
            return endpoint::client_with_ca(self.request_timeout, &ca_file).map_err(setup);
        }
        match (&self.system_client, plain_http) {
            (Ok(client), _) => Ok(client.clone()),
            (Err(_), true) => self.plain_client.clone().map_err(setup),
            (Err(message), false) => Err(setup(message.clone())),
        }
    }

    /// Credentials for `host`: refit's settings, else Docker's config; looked up once.
    async fn credentials_for(&self, host: &Host) -> Option<Credentials> {
        host.credentials
            .get_or_init(|| async {
                let settings = self.settings.get(&host.registry);
                let configured = settings.and_then(|s| {
                    credentials::from_settings(
                        &host.registry,
                        s.username.as_deref(),
                        s.password.as_ref(),
                    )
                });
                if configured.is_some() {
                    return configured;
                }
                let file = credentials::docker_config_file(self.docker_config_dir.as_deref());
                credentials::from_docker_config(&host.registry, file, self.credential_timeout).await
            })
            .await
            .clone()
    }

    /// Sends a manifest request for `reference` with credentials and auth as needed.
    async fn manifest_request(
        &self,
        host: &Host,
        reference: &ImageRef,
        kind: RequestKind,
        accept: String,
    ) -> Result<Response, Error> {
        let credentials = self.credentials_for(host).await;
        let method = if kind == RequestKind::ManifestHead {
            Method::HEAD
        } else {
            Method::GET
        };
        let request = Request {
            kind,
            method,
            url: endpoint::manifest_url(&host.base, reference),
            accept,
            repository: reference.repository(),
        };
        self.transport
            .send(host, credentials.as_ref(), &request)
            .await
    }

    /// GETs a manifest: its body, digest (sha256 of the body, checked against the reference's
    /// digest) and media type.
    async fn get_manifest(
        &self,
        host: &Host,
        reference: &ImageRef,
        accept: String,
    ) -> Result<(Vec<u8>, ManifestHead), Error> {
        let response = self
            .manifest_request(host, reference, RequestKind::ManifestGet, accept)
            .await?;
        if response.status() != StatusCode::OK {
            return Err(status_error(host, reference, response.status()));
        }
        let content_type = header_text(&response, CONTENT_TYPE.as_str());
        let body = read_body(host, response, MANIFEST_LIMIT).await?;
        let digest = manifest::sha256_digest(&body);
        if let Some(wanted) = reference.digest()
            && wanted.algorithm() == "sha256"
            && wanted != &digest
        {
            return Err(Error::Protocol {
                registry: host.registry.clone(),
                message: format!("manifest for {reference} has digest {digest}"),
            });
        }
        let media_type = content_type
            .map(|t| manifest::bare_media_type(&t))
            .filter(|t| !t.is_empty() && t != "application/json")
            .or_else(|| manifest::declared_media_type(&body))
            .unwrap_or_default();
        Ok((body, ManifestHead { digest, media_type }))
    }
}

#[async_trait]
impl Registry for OciRegistry {
    async fn head_manifest(&self, reference: &ImageRef) -> Result<ManifestHead, Error> {
        let host = self.host(reference.registry())?;
        let response = self
            .manifest_request(&host, reference, RequestKind::ManifestHead, accept_any())
            .await?;
        match response.status() {
            StatusCode::OK => {
                let digest = header_text(&response, "docker-content-digest")
                    .and_then(|d| d.parse::<Digest>().ok());
                let media_type = header_text(&response, CONTENT_TYPE.as_str())
                    .map(|t| manifest::bare_media_type(&t))
                    .filter(|t| !t.is_empty());
                if let (Some(digest), Some(media_type)) = (digest, media_type) {
                    return Ok(ManifestHead { digest, media_type });
                }
                debug!(registry = %host.registry, repository = reference.repository(), "manifest head lacks digest or type; getting the manifest");
            }
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => {
                debug!(registry = %host.registry, repository = reference.repository(), "manifest head refused; getting the manifest");
            }
            other => return Err(status_error(&host, reference, other)),
        }
        let (_, head) = self.get_manifest(&host, reference, accept_any()).await?;
        Ok(head)
    }

    async fn index_entries(&self, reference: &ImageRef) -> Result<Vec<IndexEntry>, Error> {
        let host = self.host(reference.registry())?;
        let (body, _) = self.get_manifest(&host, reference, accept_index()).await?;
        manifest::index_entries(&body).map_err(|message| Error::Protocol {
            registry: host.registry.clone(),
            message: format!("{reference}: {message}"),
        })
    }

    async fn config_digest(&self, reference: &ImageRef) -> Result<Digest, Error> {
        let host = self.host(reference.registry())?;
        let (body, head) = self.get_manifest(&host, reference, accept_image()).await?;
        if head.is_index() {
            return Err(Error::Protocol {
                registry: host.registry.clone(),
                message: format!("{reference} is an index, not an image manifest"),
            });
        }
        manifest::config_digest(&body).map_err(|message| Error::Protocol {
            registry: host.registry.clone(),
            message: format!("{reference}: {message}"),
        })
    }

    async fn list_tags(&self, reference: &ImageRef) -> Result<Vec<String>, Error> {
        let host = self.host(reference.registry())?;
        let credentials = self.credentials_for(&host).await;
        tags::list(&self.transport, &host, credentials.as_ref(), reference).await
    }

    async fn credentials(&self, registry: &str) -> Option<Credentials> {
        let host = self.host(&canonical_registry(registry)).ok()?;
        self.credentials_for(&host).await
    }

    fn request_results(&self) -> BTreeMap<(String, RequestResult), u64> {
        // A poisoned lock only means a panic elsewhere; the counters are still sound.
        let results = self
            .transport
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        results.clone()
    }

    fn begin_pass(&self) {
        self.forget_hosts();
    }
}

fn header_text(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// The error for a manifest answer that is neither success nor handled by the transport.
fn status_error(host: &Host, reference: &ImageRef, status: StatusCode) -> Error {
    answer_error(
        host,
        status,
        reference.to_string(),
        reference.repository(),
        endpoint::manifest_url(&host.base, reference),
    )
}

/// The error for a registry answer that is neither success nor handled by the transport:
/// `subject` is what was not found, `url` what was asked.
pub(super) fn answer_error(
    host: &Host,
    status: StatusCode,
    subject: String,
    repository: &str,
    url: String,
) -> Error {
    match status {
        StatusCode::NOT_FOUND => Error::NotFound { reference: subject },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::Unauthorized {
            registry: host.registry.clone(),
            repository: repository.to_string(),
        },
        other => Error::Status {
            registry: host.registry.clone(),
            status: other.as_u16(),
            url,
        },
    }
}
