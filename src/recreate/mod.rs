//! The configuration diff at the heart of an update: from the old container's inspect and the
//! old image's defaults, the create request for its successor on a new image.
//!
//! What the operator set survives; what merely came from the old image is left out so the new
//! image's defaults apply (otherwise an update could never change them); runtime state
//! (endpoint ids, generated MACs, the default hostname, Docker's own aliases) is never copied.
//! Pure: no IO. The executor supplies the facts that need the engine (the current id of a
//! `container:<x>` network peer, the engine's host name).

mod host;
mod network;
#[cfg(test)]
mod tests;

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, HealthConfig, ImageConfig,
    ImageInspect,
};

use crate::engine::CreateSpec;
use crate::model::{ContainerId, Digest, NetworkMode, Platform};

/// Compose compares this label with the image id to decide whether a service is current.
pub const COMPOSE_IMAGE_LABEL: &str = "com.docker.compose.image";

/// The new image and the facts from the engine that the diff needs.
#[derive(Clone, Debug)]
pub struct Target {
    /// What `Config.Image` will say: the reference as the operator wrote it, so `docker ps`
    /// keeps showing the human tag.
    pub image: String,
    /// The id of the verified new image.
    pub image_id: Digest,
    pub platform: Option<Platform>,
    /// For `network_mode: container:<x>`: the id `<x>` has now (it may have been recreated).
    pub network_container: Option<String>,
    /// The engine host's name: a host-network container that shows it did not set its own.
    pub engine_host_name: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecreateError {
    #[error("inspect lacks {0}")]
    Missing(&'static str),
    #[error("network_mode container:{0} names a container that no longer exists")]
    NetworkPeerGone(String),
}

/// Build the create request for `old`'s successor running `target`.
pub fn successor(
    old: &ContainerInspectResponse,
    old_image: &ImageInspect,
    target: &Target,
) -> Result<CreateSpec, RecreateError> {
    let config = old
        .config
        .as_ref()
        .ok_or(RecreateError::Missing("Config"))?;
    let id = ContainerId(old.id.clone().ok_or(RecreateError::Missing("Id"))?);
    let defaults = old_image.config.clone().unwrap_or_default();
    let mut host_config = old
        .host_config
        .clone()
        .ok_or(RecreateError::Missing("HostConfig"))?;
    let mode = NetworkMode::parse(host_config.network_mode.as_deref().unwrap_or(""));
    if let NetworkMode::Container(peer) = &mode {
        let current = target
            .network_container
            .clone()
            .ok_or_else(|| RecreateError::NetworkPeerGone(peer.clone()))?;
        host_config.network_mode = Some(format!("container:{current}"));
    }
    host::carry_over(&mut host_config, old.mounts.as_deref().unwrap_or_default());
    let mut body = config_body(config, &defaults, &id, &mode, target);
    body.host_config = Some(host_config);
    body.networking_config = network::endpoints(old, &mode, &id);
    Ok(CreateSpec {
        body,
        platform: target.platform.clone(),
    })
}

/// The networks and named volumes a spec needs to exist before the old container is stopped.
pub fn requirements(spec: &CreateSpec) -> (Vec<String>, Vec<String>) {
    let networks = spec
        .body
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
        .map(|e| {
            e.keys()
                .filter(|n| !matches!(n.as_str(), "bridge" | "host" | "none"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let volumes = spec
        .body
        .host_config
        .as_ref()
        .map(host::named_volumes)
        .unwrap_or_default();
    (networks, volumes)
}

fn config_body(
    config: &ContainerConfig,
    defaults: &ImageConfig,
    id: &ContainerId,
    mode: &NetworkMode,
    target: &Target,
) -> ContainerCreateBody {
    let (entrypoint, cmd) = entrypoint_and_cmd(config, defaults);
    let shares_namespace = matches!(mode, NetworkMode::Container(_));
    let hostname = config.hostname.clone().filter(|h| {
        let engine_given = h.is_empty()
            || h == id.short()
            || (*mode == NetworkMode::Host && Some(h) == target.engine_host_name.as_ref());
        !engine_given && !shares_namespace
    });
    let mut labels = without_defaults_map(config.labels.as_ref(), defaults.labels.as_ref());
    if let Some(labels) = labels.as_mut()
        && labels.contains_key(COMPOSE_IMAGE_LABEL)
    {
        labels.insert(COMPOSE_IMAGE_LABEL.to_string(), target.image_id.to_string());
    }
    ContainerCreateBody {
        hostname,
        domainname: config
            .domainname
            .clone()
            .filter(|d| !d.is_empty() && !shares_namespace),
        user: unless_default(&config.user, &defaults.user),
        attach_stdin: config.attach_stdin,
        attach_stdout: config.attach_stdout,
        attach_stderr: config.attach_stderr,
        exposed_ports: without_defaults(
            config.exposed_ports.as_ref(),
            defaults.exposed_ports.as_ref(),
        ),
        tty: config.tty,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        env: without_defaults(config.env.as_ref(), defaults.env.as_ref()),
        cmd,
        healthcheck: healthcheck_without_defaults(
            config.healthcheck.as_ref(),
            defaults.healthcheck.as_ref(),
        ),
        image: Some(target.image.clone()),
        volumes: without_defaults(config.volumes.as_ref(), defaults.volumes.as_ref()),
        working_dir: unless_default(&config.working_dir, &defaults.working_dir),
        entrypoint,
        network_disabled: config.network_disabled,
        labels,
        stop_signal: unless_default(&config.stop_signal, &defaults.stop_signal),
        stop_timeout: config.stop_timeout,
        ..Default::default()
    }
}

/// The engine fills a container's entrypoint and cmd from its image unless the operator set
/// them, with one twist: setting an entrypoint stops the image's cmd from being inherited. So
/// a pinned entrypoint pins cmd as it is; otherwise cmd is pinned only where it differs.
fn entrypoint_and_cmd(
    config: &ContainerConfig,
    defaults: &ImageConfig,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let (entrypoint, image_entrypoint) = (
        non_empty(&config.entrypoint),
        non_empty(&defaults.entrypoint),
    );
    if entrypoint != image_entrypoint {
        return (entrypoint, config.cmd.clone());
    }
    let cmd = non_empty(&config.cmd);
    let cmd = if cmd == non_empty(&defaults.cmd) {
        None
    } else {
        cmd
    };
    (None, cmd)
}

/// The engine merges a container's healthcheck with its image's field by field (a zero field
/// takes the image's value), so `--health-cmd` alone inherits the image's interval. Each field
/// equal to the old image's is dropped, so that it follows the new image instead of pinning it.
fn healthcheck_without_defaults(
    config: Option<&HealthConfig>,
    image: Option<&HealthConfig>,
) -> Option<HealthConfig> {
    let config = config.filter(|h| !h.is_blank())?;
    let image = image.cloned().unwrap_or_default();
    fn own<T: PartialEq + Clone>(value: &Option<T>, image: &Option<T>, zero: T) -> Option<T> {
        value
            .clone()
            .filter(|v| *v != zero && Some(v) != image.as_ref())
    }
    let kept = HealthConfig {
        test: own(&config.test, &image.test, Vec::new()),
        interval: own(&config.interval, &image.interval, 0),
        timeout: own(&config.timeout, &image.timeout, 0),
        retries: own(&config.retries, &image.retries, 0),
        start_period: own(&config.start_period, &image.start_period, 0),
        start_interval: own(&config.start_interval, &image.start_interval, 0),
    };
    (!kept.is_blank()).then_some(kept)
}

fn non_empty(v: &Option<Vec<String>>) -> Option<Vec<String>> {
    v.clone().filter(|v| !v.is_empty())
}

/// `value`, unless it equals the image's default (empty counts as unset on both sides).
fn unless_default<T: PartialEq + Clone + IsBlank>(
    value: &Option<T>,
    default: &Option<T>,
) -> Option<T> {
    let value = value.clone().filter(|v| !v.is_blank());
    let default = default.clone().filter(|v| !v.is_blank());
    if value == default { None } else { value }
}

trait IsBlank {
    fn is_blank(&self) -> bool;
}

impl IsBlank for String {
    fn is_blank(&self) -> bool {
        self.is_empty()
    }
}

impl IsBlank for bollard::models::HealthConfig {
    fn is_blank(&self) -> bool {
        *self == Self::default()
    }
}

/// Entries of `values` that the image does not also list.
fn without_defaults(
    values: Option<&Vec<String>>,
    defaults: Option<&Vec<String>>,
) -> Option<Vec<String>> {
    let defaults = defaults.map(Vec::as_slice).unwrap_or_default();
    let kept: Vec<String> = values
        .into_iter()
        .flatten()
        .filter(|v| !defaults.contains(v))
        .cloned()
        .collect();
    (!kept.is_empty()).then_some(kept)
}

fn without_defaults_map(
    values: Option<&std::collections::HashMap<String, String>>,
    defaults: Option<&std::collections::HashMap<String, String>>,
) -> Option<std::collections::HashMap<String, String>> {
    let kept: std::collections::HashMap<String, String> = values
        .into_iter()
        .flatten()
        .filter(|(k, v)| defaults.and_then(|d| d.get(*k)) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(kept)
}
