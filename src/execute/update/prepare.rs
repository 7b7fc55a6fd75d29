//! The transaction's first phase: everything that can be checked while the old container
//! still runs untouched (its configuration unchanged since the check, the successor's create
//! request, networks, volumes, the parking name free).

use std::time::Duration;

use bollard::models::{ContainerInspectResponse, RestartPolicyNameEnum};

use super::{Prepared, Transaction};
use crate::engine::{CreateSpec, RestartPolicy};
use crate::model::{NetworkMode, with_written_tag};
use crate::recreate::{self, Target};

impl Transaction<'_> {
    pub(super) async fn prepare(&self) -> Result<Prepared, String> {
        let old = self
            .engine
            .inspect_container(self.container.id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        if old.image.as_deref() != Some(self.container.image_id.as_str()) {
            return Err("the container changed since it was checked; left alone".into());
        }
        let old_image = self
            .engine
            .inspect_image(self.container.image_id.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let target = Target {
            image: self.image_name().await,
            image_id: self.change.image_id.clone(),
            platform: self.change.platform.clone(),
            network_container: self.network_peer().await?,
            engine_host_name: self.engine_host_name().await,
        };
        let spec = recreate::successor(&old, &old_image, &target).map_err(|e| e.to_string())?;
        self.check_requirements(&spec).await?;
        self.check_copy_paths().await?;
        let was_running = old.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        let auto_remove = old
            .host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false);
        let restart_policy = restart_policy(&old);
        Ok(Prepared {
            old,
            old_image,
            spec,
            was_running,
            auto_remove,
            restart_policy,
        })
    }

    /// What the successor's `Config.Image` says: the operator's reference, which the update
    /// points at the new image, with the new tag when a semver update changes it. When the
    /// image does not change and that reference has since moved to another image, the id, so
    /// the successor runs what its predecessor ran.
    async fn image_name(&self) -> String {
        let configured = &self.container.configured_image;
        if let Some((_, tag)) = &self.change.retag {
            return with_written_tag(configured, tag);
        }
        match self.engine.inspect_image(configured).await {
            Ok(image) if image.id.as_deref() == Some(self.change.image_id.as_str()) => {
                configured.clone()
            }
            _ => self.change.image_id.to_string(),
        }
    }

    /// For `network_mode: container:<x>`, the id `<x>` has now, found by its name.
    pub(super) async fn network_peer(&self) -> Result<Option<String>, String> {
        let NetworkMode::Container(peer) = &self.container.network_mode else {
            return Ok(None);
        };
        let lookup = self
            .snapshot
            .find(peer)
            .map_or(peer.as_str(), |c| c.name.as_str());
        match self.engine.inspect_container(lookup).await {
            Ok(found) => Ok(found.id),
            Err(e) => Err(format!("network_mode container:{lookup}: {e}")),
        }
    }

    pub(super) async fn engine_host_name(&self) -> Option<String> {
        if self.container.network_mode != NetworkMode::Host {
            return None;
        }
        self.engine.host_name().await.ok()
    }

    async fn check_requirements(&self, spec: &CreateSpec) -> Result<(), String> {
        let (networks, volumes) = recreate::requirements(spec);
        for network in networks {
            if !self
                .engine
                .network_exists(&network)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("network {network} does not exist"));
            }
        }
        for volume in volumes {
            if !self
                .engine
                .volume_exists(&volume)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("volume {volume} does not exist"));
            }
        }
        match self.engine.inspect_container(&self.parked_name()).await {
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.to_string()),
            Ok(_) => Err(format!(
                "a container named {} already exists (left by an interrupted update?)",
                self.parked_name()
            )),
        }
    }

    /// `refit.stop-timeout`, else the container's own, else the configured default.
    pub(super) fn stop_timeout(&self, old: &ContainerInspectResponse) -> Duration {
        if let Some(timeout) = self
            .container
            .label(crate::policy::labels::STOP_TIMEOUT)
            .and_then(crate::policy::parse_duration)
        {
            return timeout;
        }
        let own = old
            .config
            .as_ref()
            .and_then(|c| c.stop_timeout)
            .filter(|t| *t >= 0);
        own.map_or(self.settings.stop_timeout, |secs| {
            Duration::from_secs(secs as u64)
        })
    }
}

/// The old container's restart policy when it is not `no`: what parking replaces and
/// restoring puts back.
fn restart_policy(old: &ContainerInspectResponse) -> Option<RestartPolicy> {
    let policy = old
        .host_config
        .as_ref()
        .and_then(|h| h.restart_policy.clone())
        .unwrap_or_default();
    let name = policy
        .name
        .filter(|n| *n != RestartPolicyNameEnum::EMPTY)
        .unwrap_or(RestartPolicyNameEnum::NO);
    (name != RestartPolicyNameEnum::NO).then(|| RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: policy.maximum_retry_count.unwrap_or(0),
    })
}
