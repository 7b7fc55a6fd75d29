//! `DockerEngine`: the `Engine` trait over bollard. The only module that performs Docker IO.

use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerUpdateBody, EndpointSettings,
    ImageInspect, NetworkConnectRequest, NetworkingConfig, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, CreateContainerOptionsBuilder, CreateImageOptionsBuilder,
    DownloadFromContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder, RenameContainerOptionsBuilder,
    StopContainerOptionsBuilder, TagImageOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use tracing::debug;

use super::archive;
use super::version::{self, ApiVersion};
use super::{CreateSpec, Engine, Error, ExecResult, RestartPolicy};
use crate::config::TlsPaths;
use crate::model::Platform;
use crate::registry::Credentials;

/// bollard applies one timeout to whole requests, pulls and stops included, so it is set
/// high; quick calls get their own, shorter bound (`QUICK`).
const CLIENT_TIMEOUT_SECS: u64 = 3600;
const QUICK: Duration = Duration::from_secs(60);

pub struct DockerEngine {
    docker: Docker,
    address: String,
    api: ApiVersion,
}

impl DockerEngine {
    /// Connect to `host` and negotiate the API version (see `version::negotiate`).
    pub async fn connect(host: &str, tls: Option<&TlsPaths>) -> Result<DockerEngine, Error> {
        let address = host.to_string();
        let probe = Self::client(host, tls, version::NEWEST_KNOWN)?;
        let answer = tokio::time::timeout(QUICK, probe.version())
            .await
            .map_err(|_| Error::Unreachable {
                address: address.clone(),
                message: "no answer within 60s".into(),
            })?
            .map_err(|e| unreachable(&address, e))?;
        let api = version::negotiate(
            answer.api_version.as_deref(),
            answer.min_api_version.as_deref(),
        )
        .map_err(|e| Error::Version {
            address: address.clone(),
            server: answer.api_version.clone().unwrap_or_default(),
            needed: e.to_string(),
        })?;
        debug!(address = %address, api = %api, engine = answer.version.as_deref().unwrap_or(""), "negotiated docker api version");
        let docker = Self::client(host, tls, api)?;
        Ok(DockerEngine {
            docker,
            address,
            api,
        })
    }

    pub fn api_version(&self) -> ApiVersion {
        self.api
    }

    fn client(host: &str, tls: Option<&TlsPaths>, api: ApiVersion) -> Result<Docker, Error> {
        let version = bollard::ClientVersion {
            major_version: api.major as usize,
            minor_version: api.minor as usize,
        };
        let result = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, &version)
        } else if host.starts_with("tcp://")
            || host.starts_with("http://")
            || host.starts_with("https://")
        {
            match tls {
                Some(t) => Docker::connect_with_ssl(
                    host,
                    &t.key,
                    &t.cert,
                    &t.ca,
                    CLIENT_TIMEOUT_SECS,
                    &version,
                ),
                None => Docker::connect_with_http(host, CLIENT_TIMEOUT_SECS, &version),
            }
        } else {
            return Err(Error::Unreachable {
                address: host.to_string(),
                message: "unsupported address: use unix:///path or tcp://host:port".into(),
            });
        };
        result.map_err(|e| unreachable(host, e))
    }

    async fn quick<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T, Error> {
        self.quick_on(operation, operation, call).await
    }

    /// `quick`, with `subject` (what a "not found" is about) named in the error.
    async fn quick_on<T>(
        &self,
        operation: &'static str,
        subject: &str,
        call: impl Future<Output = Result<T, BollardError>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(QUICK, call).await {
            Ok(result) => result.map_err(|e| self.error(subject, e)),
            Err(_) => Err(Error::Timeout {
                operation,
                after: QUICK,
            }),
        }
    }

    fn error(&self, what: &str, e: BollardError) -> Error {
        match e {
            BollardError::DockerResponseServerError {
                status_code: 404,
                message,
            } => Error::NotFound {
                what: format!("{what}: {message}"),
            },
            BollardError::DockerResponseServerError {
                status_code: 409,
                message,
            } => Error::Conflict { message },
            BollardError::DockerResponseServerError {
                status_code,
                message,
            } => Error::Api {
                status: status_code,
                message,
            },
            BollardError::JsonDataError { message, .. } => Error::Protocol { message },
            BollardError::JsonSerdeError { err } => Error::Protocol {
                message: err.to_string(),
            },
            other => unreachable(&self.address, other),
        }
    }

    /// API 1.41 refuses more than one endpoint at create; from 1.44 all go in at once.
    fn split_endpoints(
        &self,
        spec: &CreateSpec,
    ) -> (ContainerCreateBody, Vec<(String, EndpointSettings)>) {
        let mut body = spec.body.clone();
        let endpoints = body
            .networking_config
            .take()
            .and_then(|n| n.endpoints_config)
            .unwrap_or_default();
        if self.api >= version::MULTI_ENDPOINT_CREATE || endpoints.len() <= 1 {
            body.networking_config = Some(NetworkingConfig {
                endpoints_config: Some(endpoints),
            });
            return (body, Vec::new());
        }
        let mode = body
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default();
        let mut rest: Vec<(String, EndpointSettings)> = endpoints.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let primary = rest.iter().position(|(name, _)| *name == mode).unwrap_or(0);
        let first = rest.remove(primary);
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some([first].into()),
        });
        (body, rest)
    }
}

fn unreachable(address: &str, e: BollardError) -> Error {
    Error::Unreachable {
        address: address.to_string(),
        message: e.to_string(),
    }
}

#[async_trait]
impl Engine for DockerEngine {
    fn address(&self) -> &str {
        &self.address
    }

    async fn list_container_ids(&self, all: bool) -> Result<Vec<String>, Error> {
        let options = ListContainersOptionsBuilder::default().all(all).build();
        let list = self
            .quick(
                "list containers",
                self.docker.list_containers(Some(options)),
            )
            .await?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse, Error> {
        let subject = format!("container {id}");
        let call = self.docker.inspect_container(id, None);
        self.quick_on("inspect container", &subject, call).await
    }

    async fn inspect_image(&self, image: &str) -> Result<ImageInspect, Error> {
        let subject = format!("image {image}");
        self.quick_on("inspect image", &subject, self.docker.inspect_image(image))
            .await
    }

    async fn host_name(&self) -> Result<String, Error> {
        let info = self.quick("engine info", self.docker.info()).await?;
        Ok(info.name.unwrap_or_default())
    }

    async fn pull_image(
        &self,
        reference: &str,
        platform: Option<&Platform>,
        credentials: Option<&Credentials>,
    ) -> Result<(), Error> {
        let mut options = CreateImageOptionsBuilder::default().from_image(reference);
        if let Some(p) = platform {
            options = options.platform(&p.to_string());
        }
        let auth = credentials.map(|c| bollard::auth::DockerCredentials {
            username: Some(c.username.clone()),
            password: Some(c.password.expose().to_string()),
            serveraddress: Some(c.server.clone()),
            ..Default::default()
        });
        let mut stream = self.docker.create_image(Some(options.build()), None, auth);
        while let Some(item) = stream.next().await {
            let fail = |message: String| Error::Pull {
                reference: reference.to_string(),
                message,
            };
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(fail(detail));
                    }
                }
                Err(BollardError::DockerStreamError { error }) => return Err(fail(error)),
                Err(BollardError::DockerResponseServerError { message, .. }) => {
                    return Err(fail(message));
                }
                Err(e) => return Err(self.error("pull", e)),
            }
        }
        Ok(())
    }

    async fn tag_image(&self, image: &str, repo: &str, tag: &str) -> Result<(), Error> {
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.quick("tag image", self.docker.tag_image(image, Some(options)))
            .await
    }

    async fn remove_image(&self, image: &str) -> Result<(), Error> {
        let options = RemoveImageOptionsBuilder::default()
            .force(false)
            .noprune(false)
            .build();
        self.quick(
            "remove image",
            self.docker.remove_image(image, Some(options), None),
        )
        .await
        .map(drop)
    }

    async fn network_exists(&self, name: &str) -> Result<bool, Error> {
        match self
            .quick("inspect network", self.docker.inspect_network(name, None))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, Error> {
        match self
            .quick("inspect volume", self.docker.inspect_volume(name))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), Error> {
        let seconds = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(seconds).build();
        let call = self.docker.stop_container(id, Some(options));
        // The engine waits `t` seconds then kills; give it that plus the quick margin.
        match tokio::time::timeout(timeout + QUICK, call).await {
            Ok(result) => result.map_err(|e| self.error("stop container", e)),
            Err(_) => Err(Error::Timeout {
                operation: "stop container",
                after: timeout + QUICK,
            }),
        }
    }

    async fn stop_container_with(
        &self,
        id: &str,
        signal: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        if self.api >= version::STOP_SIGNAL {
            let seconds = i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX);
            let options = StopContainerOptionsBuilder::default()
                .t(seconds)
                .signal(signal)
                .build();
            let call = self.docker.stop_container(id, Some(options));
            return match tokio::time::timeout(timeout + QUICK, call).await {
                Ok(result) => result.map_err(|e| self.error("stop container", e)),
                Err(_) => Err(Error::Timeout {
                    operation: "stop container",
                    after: timeout + QUICK,
                }),
            };
        }
        // API 1.41 has no stop signal: send it, wait for the exit, then kill what is left
        // (a stop with no grace period), which is what a stop with a signal does.
        let options = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.quick(
            "kill container",
            self.docker.kill_container(id, Some(options)),
        )
        .await?;
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let state = self.inspect_container(id).await?.state;
            if !state.and_then(|s| s.running).unwrap_or(false) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.stop_container(id, Duration::ZERO).await
    }

    async fn start_container(&self, id: &str) -> Result<(), Error> {
        self.quick("start container", self.docker.start_container(id, None))
            .await
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), Error> {
        let options = RenameContainerOptionsBuilder::default()
            .name(new_name)
            .build();
        self.quick(
            "rename container",
            self.docker.rename_container(id, options),
        )
        .await
    }

    async fn set_restart_policy(&self, id: &str, policy: &RestartPolicy) -> Result<(), Error> {
        let name = match policy.name.as_str() {
            "always" => RestartPolicyNameEnum::ALWAYS,
            "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
            "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
            _ => RestartPolicyNameEnum::NO,
        };
        let retries =
            (name == RestartPolicyNameEnum::ON_FAILURE).then_some(policy.maximum_retry_count);
        let body = ContainerUpdateBody {
            restart_policy: Some(bollard::models::RestartPolicy {
                name: Some(name),
                maximum_retry_count: retries,
            }),
            ..Default::default()
        };
        self.quick(
            "update restart policy",
            self.docker.update_container(id, body),
        )
        .await
    }

    async fn create_container(&self, name: &str, spec: &CreateSpec) -> Result<String, Error> {
        let (body, later) = self.split_endpoints(spec);
        let mut options = CreateContainerOptionsBuilder::default().name(name);
        if let Some(p) = &spec.platform {
            options = options.platform(&p.to_string());
        }
        let created = self
            .quick(
                "create container",
                self.docker.create_container(Some(options.build()), body),
            )
            .await?;
        for (network, endpoint) in later {
            let request = NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(endpoint),
            };
            let connected = self
                .quick(
                    "connect network",
                    self.docker.connect_network(&network, request),
                )
                .await;
            if let Err(e) = connected {
                // Leave nothing half-made behind: the caller still has the old container.
                let _ = self.remove_container(&created.id).await;
                return Err(e);
            }
        }
        Ok(created.id)
    }

    async fn remove_container(&self, id: &str) -> Result<(), Error> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(false)
            .build();
        self.quick(
            "remove container",
            self.docker.remove_container(id, Some(options)),
        )
        .await
    }

    async fn exec(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult, Error> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        const KEEP: usize = 4096;
        let run = async {
            let options = CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            };
            let created = self.docker.create_exec(id, options).await?;
            let mut output = String::new();
            if let StartExecResults::Attached {
                output: mut stream, ..
            } = self.docker.start_exec(&created.id, None).await?
            {
                while let Some(chunk) = stream.next().await {
                    let text = chunk?.to_string();
                    if output.len() < KEEP {
                        output.push_str(&text);
                    }
                }
            }
            let inspect = self.docker.inspect_exec(&created.id).await?;
            let mut end = output.len().min(KEEP);
            while !output.is_char_boundary(end) {
                end -= 1;
            }
            output.truncate(end);
            Ok::<_, BollardError>(ExecResult {
                exit_code: inspect.exit_code,
                output,
            })
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result.map_err(|e| self.error("exec", e)),
            Err(_) => Err(Error::Timeout {
                operation: "exec",
                after: timeout,
            }),
        }
    }

    async fn path_exists(&self, id: &str, path: &str) -> Result<bool, Error> {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        let call = self.docker.get_container_archive_info(id, Some(options));
        match self.quick_on("stat path", path, call).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn copy_path(&self, from: &str, to: &str, path: &str) -> Result<(), Error> {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let download = async {
            let mut stream = self.docker.download_from_container(from, Some(options));
            let mut tar = Vec::new();
            while let Some(chunk) = stream.next().await {
                tar.extend_from_slice(&chunk?);
            }
            Ok(tar)
        };
        let tar = self.quick_on("download path", path, download).await?;
        let tar = archive::reroot(&tar, archive::parent_of(path)).map_err(|e| Error::Protocol {
            message: format!("archive of {path}: {e}"),
        })?;
        // Uploaded to `/` with full paths: the engine then creates parents the image lacks.
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        let body = bollard::body_full(tar.into());
        self.quick_on(
            "upload path",
            path,
            self.docker.upload_to_container(to, Some(options), body),
        )
        .await
    }
}
