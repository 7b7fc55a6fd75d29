//! Converts the engine's inspect answers into model facts, once, so nothing downstream reads
//! Docker's JSON shapes. Pure functions.

use std::collections::BTreeMap;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, ImageInspect};

use crate::model::{
    Container, ContainerId, Digest, ImageSource, LocalImage, NetworkMode, Platform, RunState,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("inspect of {what} lacks {field}")]
pub struct FactsError {
    pub what: String,
    pub field: &'static str,
}

pub fn container(inspect: &ContainerInspectResponse) -> Result<Container, FactsError> {
    let what = inspect
        .name
        .clone()
        .or_else(|| inspect.id.clone())
        .unwrap_or_default();
    let missing = |field| FactsError {
        what: what.clone(),
        field,
    };
    let id = inspect.id.clone().ok_or_else(|| missing("Id"))?;
    let name = inspect.name.as_deref().ok_or_else(|| missing("Name"))?;
    let image_id: Digest = inspect
        .image
        .as_deref()
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| missing("Image"))?;
    let config = inspect.config.as_ref().ok_or_else(|| missing("Config"))?;
    let configured_image = config.image.clone().unwrap_or_default();
    let host_config = inspect.host_config.clone().unwrap_or_default();
    Ok(Container {
        id: ContainerId(id),
        name: name.trim_start_matches('/').to_string(),
        image: ImageSource::parse(&configured_image, &image_id),
        configured_image,
        image_id,
        labels: config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        state: run_state(inspect),
        network_mode: NetworkMode::parse(host_config.network_mode.as_deref().unwrap_or("")),
        links: host_config
            .links
            .unwrap_or_default()
            .iter()
            .filter_map(|l| link_target(l))
            .collect(),
    })
}

fn run_state(inspect: &ContainerInspectResponse) -> RunState {
    let state = inspect.state.clone().unwrap_or_default();
    match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => RunState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        _ if state.running == Some(true) => RunState::Running,
        _ => RunState::Stopped,
    }
}

/// The linked container's name from an inspect link entry: `/db:/web/alias` → `db`.
pub fn link_target(link: &str) -> Option<String> {
    let target = link.split(':').next()?.trim_start_matches('/');
    (!target.is_empty()).then(|| target.to_string())
}

pub fn image(inspect: &ImageInspect) -> Result<LocalImage, FactsError> {
    let what = inspect.id.clone().unwrap_or_default();
    let id: Digest = inspect
        .id
        .as_deref()
        .and_then(|i| i.parse().ok())
        .ok_or(FactsError { what, field: "Id" })?;
    let labels: BTreeMap<String, String> = inspect
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(LocalImage {
        id,
        repo_digests: inspect.repo_digests.clone().unwrap_or_default(),
        platform: Platform::new(
            inspect.os.as_deref().unwrap_or("linux"),
            inspect.architecture.as_deref().unwrap_or(""),
            inspect.variant.as_deref().unwrap_or(""),
        ),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerConfig, ContainerState, HostConfig};

    fn inspect() -> ContainerInspectResponse {
        ContainerInspectResponse {
            id: Some("f".repeat(64)),
            name: Some("/web".into()),
            image: Some(format!("sha256:{}", "a".repeat(64))),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::EXITED),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                image: Some("nginx:1.27".into()),
                labels: Some([("refit.enable".to_string(), "true".to_string())].into()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("container:abc".into()),
                links: Some(vec!["/db:/web/database".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn converts_container_facts() {
        let c = container(&inspect()).unwrap();
        assert_eq!(c.name, "web");
        assert_eq!(c.id.short(), "ffffffffffff");
        assert_eq!(
            c.image.reference().unwrap().to_string(),
            "docker.io/library/nginx:1.27"
        );
        assert_eq!(c.state, RunState::Stopped);
        assert_eq!(c.network_mode, NetworkMode::Container("abc".into()));
        assert_eq!(c.links, vec!["db".to_string()]);
        assert_eq!(c.label("refit.enable"), Some("true"));
    }

    #[test]
    fn missing_fields_are_named() {
        let mut broken = inspect();
        broken.image = None;
        assert_eq!(container(&broken).unwrap_err().field, "Image");
    }

    #[test]
    fn converts_image_facts() {
        let i = ImageInspect {
            id: Some(format!("sha256:{}", "b".repeat(64))),
            repo_digests: Some(vec![format!("nginx@sha256:{}", "c".repeat(64))]),
            os: Some("linux".into()),
            architecture: Some("arm".into()),
            variant: Some("v7".into()),
            ..Default::default()
        };
        let image = image(&i).unwrap();
        assert_eq!(image.platform.to_string(), "linux/arm/v7");
        assert_eq!(image.digests().count(), 1);
    }
}
