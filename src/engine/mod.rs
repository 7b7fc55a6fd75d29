//! The Docker engine behind a small trait. `DockerEngine` (docker.rs) is the only code that
//! talks to the engine; `facts.rs` turns its inspect answers into model facts.
//!
//! The trait speaks in bollard's model structs (`ContainerInspectResponse`, `ImageInspect`,
//! `ContainerCreateBody`): they are plain data generated from Docker's API schema, and
//! re-declaring the hundred-odd fields of a container's configuration would be the surest way
//! to lose one. bollard's client, which does the IO, stays inside docker.rs.

pub mod archive;
mod docker;
pub mod facts;
pub mod version;

use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse, ImageInspect};

pub use docker::DockerEngine;

use crate::model::Platform;
use crate::registry::Credentials;

/// Everything needed to create a container: the body, with every network endpoint in
/// `networking_config` (the engine adapter decides how to attach them for the API version it
/// negotiated), and the platform to create it for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CreateSpec {
    pub body: ContainerCreateBody,
    pub platform: Option<Platform>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the Docker engine at {address}: {message}")]
    Unreachable { address: String, message: String },
    #[error("Docker engine at {address} speaks API {server}, refit needs {needed}")]
    Version {
        address: String,
        server: String,
        needed: String,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("conflict: {message}")]
    Conflict { message: String },
    #[error("engine refused: {message}")]
    Api { status: u16, message: String },
    #[error("{operation} timed out after {}s", .after.as_secs())]
    Timeout {
        operation: &'static str,
        after: Duration,
    },
    #[error("pull of {reference} failed: {message}")]
    Pull { reference: String, message: String },
    #[error("engine gave an answer refit cannot use: {message}")]
    Protocol { message: String },
}

impl Error {
    /// Whether asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unreachable { .. } | Error::Timeout { .. })
            || matches!(self, Error::Api { status, .. } if *status >= 500)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// A container's restart policy, as refit needs to set it while parking the old container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped` or `on-failure`.
    pub name: String,
    pub maximum_retry_count: i64,
}

/// How a command run inside a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecResult {
    /// `None` when the engine did not report one (the process is still running).
    pub exit_code: Option<i64>,
    /// stdout and stderr interleaved, truncated to a few KiB (for messages).
    pub output: String,
}

/// What refit asks of a Docker engine.
#[async_trait]
pub trait Engine: Send + Sync {
    /// The address this engine was reached at, for messages.
    fn address(&self) -> &str;

    /// Ids of containers: running ones, or all with `all`.
    async fn list_container_ids(&self, all: bool) -> Result<Vec<String>, Error>;
    async fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInspectResponse, Error>;
    async fn inspect_image(&self, id_or_reference: &str) -> Result<ImageInspect, Error>;
    /// The engine host's name, which host-network containers see as their hostname.
    async fn host_name(&self) -> Result<String, Error>;

    /// Pull `reference` (normally `repo@sha256:…`) for `platform`, to completion.
    async fn pull_image(
        &self,
        reference: &str,
        platform: Option<&Platform>,
        credentials: Option<&Credentials>,
    ) -> Result<(), Error>;
    /// Point `repo:tag` at `image`.
    async fn tag_image(&self, image: &str, repo: &str, tag: &str) -> Result<(), Error>;
    /// Remove an image by id; fails (Conflict) when a container still uses it.
    async fn remove_image(&self, image: &str) -> Result<(), Error>;

    async fn network_exists(&self, name: &str) -> Result<bool, Error>;
    async fn volume_exists(&self, name: &str) -> Result<bool, Error>;

    /// Stop with the container's own stop signal, killing after `timeout`.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), Error>;
    /// Stop with `signal` instead of the container's own (`refit.stop-signal`), killing after
    /// `timeout`.
    async fn stop_container_with(
        &self,
        id: &str,
        signal: &str,
        timeout: Duration,
    ) -> Result<(), Error>;
    async fn start_container(&self, id: &str) -> Result<(), Error>;
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), Error>;
    async fn set_restart_policy(&self, id: &str, policy: &RestartPolicy) -> Result<(), Error>;
    /// Create `name` from `spec`, attached to every network the spec lists; returns the id.
    async fn create_container(&self, name: &str, spec: &CreateSpec) -> Result<String, Error>;
    /// Remove a container, keeping its volumes (anonymous ones are re-used by its successor).
    async fn remove_container(&self, id: &str) -> Result<(), Error>;
    /// Run `cmd` inside the running container `id` and wait for it, up to `timeout` (then
    /// `Error::Timeout`; the engine has no call to kill an exec, so it may go on running).
    async fn exec(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult, Error>;

    /// Whether `path` exists in container `id` (running or not): the archive API's stat.
    async fn path_exists(&self, id: &str, path: &str) -> Result<bool, Error>;
    /// Copy `path` (a file or a directory) from container `from` into container `to` at the
    /// same place, with its content, owner and mode; missing parent directories are created.
    async fn copy_path(&self, from: &str, to: &str, path: &str) -> Result<(), Error>;
}
