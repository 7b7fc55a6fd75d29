//! A recording, in-memory engine (and a registry that knows nothing) for executor tests:
//! containers and images as inspect structs, every call logged, any operation made to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bollard::models::{
    ContainerConfig, ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, Health,
    HealthStatusEnum, HostConfig, ImageInspect, NetworkSettings,
    RestartPolicy as BollardRestartPolicy, RestartPolicyNameEnum,
};

use crate::engine::{CreateSpec, Engine, Error, ExecResult, RestartPolicy};
use crate::model::{Digest, ImageRef, Platform};
use crate::registry::{self, Credentials, IndexEntry, ManifestHead, Registry};

#[derive(Default)]
pub struct State {
    pub containers: Vec<ContainerInspectResponse>,
    pub images: Vec<ImageInspect>,
    /// `repo:tag` (normalised) → image id.
    pub tags: BTreeMap<String, String>,
    /// Images a pull by digest can fetch: digest → image.
    pub remote: BTreeMap<String, ImageInspect>,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    /// Images whose containers exit as soon as they start.
    pub crashing: BTreeSet<String>,
    /// Images whose containers report this health status once started.
    pub health: BTreeMap<String, HealthStatusEnum>,
    pub log: Vec<String>,
    /// Operation names (as logged, first word) that fail.
    pub failing: BTreeSet<String>,
    /// Exit codes of commands run with `exec`, by the command's text; absent: 0.
    pub exec_exit: BTreeMap<String, i64>,
    /// Files inside containers, as the archive API sees them: (container id, path) → content.
    pub files: BTreeMap<(String, String), String>,
    next_id: u32,
}

pub struct FakeEngine(pub Mutex<State>);

impl FakeEngine {
    pub fn new(state: State) -> FakeEngine {
        FakeEngine(Mutex::new(state))
    }

    pub fn log(&self) -> Vec<String> {
        self.0.lock().unwrap().log.clone()
    }

    pub fn container(&self, name: &str) -> Option<ContainerInspectResponse> {
        let state = self.0.lock().unwrap();
        find(&state, name).cloned()
    }

    fn call<T>(
        &self,
        entry: String,
        f: impl FnOnce(&mut State) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut state = self.0.lock().unwrap();
        let op = entry.split(' ').next().unwrap_or_default().to_string();
        state.log.push(entry);
        if state.failing.contains(&op) {
            return Err(Error::Api {
                status: 500,
                message: format!("injected {op} failure"),
            });
        }
        f(&mut state)
    }
}

fn find<'s>(state: &'s State, key: &str) -> Option<&'s ContainerInspectResponse> {
    state.containers.iter().find(|c| {
        let id = c.id.as_deref().unwrap_or_default();
        id == key
            || c.name.as_deref() == Some(&format!("/{key}"))
            || (key.len() >= 12 && id.starts_with(key))
    })
}

fn find_mut<'s>(
    state: &'s mut State,
    key: &str,
) -> Result<&'s mut ContainerInspectResponse, Error> {
    let id = find(state, key)
        .and_then(|c| c.id.clone())
        .ok_or_else(|| not_found(key))?;
    Ok(state
        .containers
        .iter_mut()
        .find(|c| c.id.as_deref() == Some(&id))
        .expect("found above"))
}

fn not_found(what: &str) -> Error {
    Error::NotFound {
        what: what.to_string(),
    }
}

fn running(c: &ContainerInspectResponse) -> bool {
    c.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}

pub fn set_running(c: &mut ContainerInspectResponse, running: bool) {
    let status = if running {
        ContainerStateStatusEnum::RUNNING
    } else {
        ContainerStateStatusEnum::EXITED
    };
    c.state = Some(ContainerState {
        running: Some(running),
        status: Some(status),
        exit_code: Some(if running { 0 } else { 1 }),
        ..Default::default()
    });
}

/// Resolve an image name the way the engine does: id, `repo@digest`, or `repo:tag`.
fn image_id(state: &State, name: &str) -> Option<String> {
    if state.images.iter().any(|i| i.id.as_deref() == Some(name)) {
        return Some(name.to_string());
    }
    let reference: ImageRef = name.parse().ok()?;
    if let Some(digest) = reference.digest() {
        return state
            .images
            .iter()
            .find(|i| {
                i.repo_digests
                    .iter()
                    .flatten()
                    .any(|rd| rd.ends_with(digest.as_str()))
            })
            .and_then(|i| i.id.clone());
    }
    state.tags.get(&reference.to_string()).cloned()
}

#[async_trait]
impl Engine for FakeEngine {
    fn address(&self) -> &str {
        "fake://engine"
    }

    async fn list_container_ids(&self, all: bool) -> Result<Vec<String>, Error> {
        self.call("list".into(), |s| {
            Ok(s.containers
                .iter()
                .filter(|c| all || running(c))
                .filter_map(|c| c.id.clone())
                .collect())
        })
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerInspectResponse, Error> {
        let state = self.0.lock().unwrap();
        find(&state, id).cloned().ok_or_else(|| not_found(id))
    }

    async fn inspect_image(&self, name: &str) -> Result<ImageInspect, Error> {
        let state = self.0.lock().unwrap();
        let id = image_id(&state, name).ok_or_else(|| not_found(name))?;
        Ok(state
            .images
            .iter()
            .find(|i| i.id.as_deref() == Some(&id))
            .cloned()
            .expect("resolved above"))
    }

    async fn host_name(&self) -> Result<String, Error> {
        Ok("fakehost".into())
    }

    async fn pull_image(
        &self,
        reference: &str,
        _: Option<&Platform>,
        _: Option<&Credentials>,
    ) -> Result<(), Error> {
        self.call(format!("pull {reference}"), |s| {
            let digest = reference
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .ok_or_else(|| not_found(reference))?;
            let image = s.remote.get(&digest).cloned().ok_or_else(|| Error::Pull {
                reference: reference.into(),
                message: "manifest unknown".into(),
            })?;
            if !s.images.iter().any(|i| i.id == image.id) {
                s.images.push(image);
            }
            Ok(())
        })
    }

    async fn tag_image(&self, image: &str, repo: &str, tag: &str) -> Result<(), Error> {
        self.call(format!("tag {repo}:{tag}"), |s| {
            s.tags.insert(format!("{repo}:{tag}"), image.to_string());
            Ok(())
        })
    }

    async fn remove_image(&self, image: &str) -> Result<(), Error> {
        self.call(format!("rmi {}", &image[7..19]), |s| {
            if s.containers
                .iter()
                .any(|c| c.image.as_deref() == Some(image))
            {
                return Err(Error::Conflict {
                    message: "image is being used".into(),
                });
            }
            s.images.retain(|i| i.id.as_deref() != Some(image));
            Ok(())
        })
    }

    async fn network_exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self.0.lock().unwrap().networks.contains(name))
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, Error> {
        Ok(self.0.lock().unwrap().volumes.contains(name))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(format!("stop {name} {}s", timeout.as_secs()), |s| {
            let auto_remove = {
                let c = find_mut(s, id)?;
                set_running(c, false);
                c.host_config
                    .as_ref()
                    .and_then(|h| h.auto_remove)
                    .unwrap_or(false)
            };
            if auto_remove {
                s.containers.retain(|c| c.id.as_deref() != Some(id));
            }
            Ok(())
        })
    }

    async fn stop_container_with(
        &self,
        id: &str,
        signal: &str,
        timeout: Duration,
    ) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(
            format!("stop {name} {}s {signal}", timeout.as_secs()),
            |s| {
                set_running(find_mut(s, id)?, false);
                Ok(())
            },
        )
    }

    async fn start_container(&self, id: &str) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(format!("start {name}"), |s| {
            let crashing = s.crashing.clone();
            let health = s.health.clone();
            let c = find_mut(s, id)?;
            let image = c.image.clone().unwrap_or_default();
            set_running(c, !crashing.contains(&image));
            if let (Some(status), Some(state)) = (health.get(&image), c.state.as_mut()) {
                state.health = Some(Health {
                    status: Some(*status),
                    ..Default::default()
                });
            }
            Ok(())
        })
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(format!("rename {name} {new_name}"), |s| {
            if find(s, new_name).is_some() {
                return Err(Error::Conflict {
                    message: format!("name {new_name} in use"),
                });
            }
            find_mut(s, id)?.name = Some(format!("/{new_name}"));
            Ok(())
        })
    }

    async fn set_restart_policy(&self, id: &str, policy: &RestartPolicy) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(format!("policy {name} {}", policy.name), |s| {
            let c = find_mut(s, id)?;
            let parsed: RestartPolicyNameEnum =
                serde_json::from_value(serde_json::json!(policy.name)).expect("policy name");
            c.host_config
                .get_or_insert_with(Default::default)
                .restart_policy = Some(BollardRestartPolicy {
                name: Some(parsed),
                maximum_retry_count: Some(policy.maximum_retry_count),
            });
            Ok(())
        })
    }

    async fn create_container(&self, name: &str, spec: &CreateSpec) -> Result<String, Error> {
        self.call(format!("create {name}"), |s| {
            if find(s, name).is_some() {
                return Err(Error::Conflict {
                    message: format!("name {name} in use"),
                });
            }
            let body = &spec.body;
            let image = body.image.clone().unwrap_or_default();
            let image = image_id(s, &image).ok_or_else(|| not_found(&image))?;
            s.next_id += 1;
            let id = format!("{:064x}", 0xc0ffee_u64 * 1000 + s.next_id as u64);
            let config = ContainerConfig {
                image: body.image.clone(),
                env: body.env.clone(),
                cmd: body.cmd.clone(),
                labels: body.labels.clone(),
                hostname: body.hostname.clone(),
                ..Default::default()
            };
            let mut container = ContainerInspectResponse {
                id: Some(id.clone()),
                name: Some(format!("/{name}")),
                image: Some(image),
                config: Some(config),
                host_config: body.host_config.clone(),
                network_settings: Some(NetworkSettings {
                    networks: None,
                    ..Default::default()
                }),
                ..Default::default()
            };
            set_running(&mut container, false);
            s.containers.push(container);
            Ok(id)
        })
    }

    async fn remove_container(&self, id: &str) -> Result<(), Error> {
        let name = self.name_of(id);
        self.call(format!("rm {name}"), |s| {
            find(s, id).ok_or_else(|| not_found(id))?;
            s.containers.retain(|c| c.id.as_deref() != Some(id));
            Ok(())
        })
    }

    async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        _timeout: Duration,
    ) -> Result<ExecResult, Error> {
        let name = self.name_of(id);
        let text = cmd.join(" ");
        self.call(format!("exec {name} {text}"), |s| {
            find(s, id).ok_or_else(|| not_found(id))?;
            Ok(ExecResult {
                exit_code: Some(s.exec_exit.get(&text).copied().unwrap_or(0)),
                output: String::new(),
            })
        })
    }

    async fn path_exists(&self, id: &str, path: &str) -> Result<bool, Error> {
        let name = self.name_of(id);
        self.call(format!("stat {name} {path}"), |s| {
            let id = find(s, id)
                .and_then(|c| c.id.clone())
                .ok_or_else(|| not_found(id))?;
            Ok(s.files.contains_key(&(id, path.to_string())))
        })
    }

    async fn copy_path(&self, from: &str, to: &str, path: &str) -> Result<(), Error> {
        let (source, target) = (self.name_of(from), self.name_of(to));
        self.call(format!("copy {path} {source} {target}"), |s| {
            let id = |key: &str| {
                find(s, key)
                    .and_then(|c| c.id.clone())
                    .ok_or_else(|| not_found(key))
            };
            let (from, to) = (id(from)?, id(to)?);
            let content = s
                .files
                .get(&(from, path.to_string()))
                .cloned()
                .ok_or_else(|| not_found(path))?;
            s.files.insert((to, path.to_string()), content);
            Ok(())
        })
    }
}

impl FakeEngine {
    fn name_of(&self, id: &str) -> String {
        let state = self.0.lock().unwrap();
        find(&state, id)
            .and_then(|c| c.name.clone())
            .map_or(id.to_string(), |n| n.trim_start_matches('/').to_string())
    }
}

/// A registry that is never asked anything in executor tests (the plan is given).
pub struct NoRegistry;

#[async_trait]
impl Registry for NoRegistry {
    async fn head_manifest(&self, r: &ImageRef) -> Result<ManifestHead, registry::Error> {
        Err(registry::Error::NotFound {
            reference: r.to_string(),
        })
    }
    async fn index_entries(&self, r: &ImageRef) -> Result<Vec<IndexEntry>, registry::Error> {
        Err(registry::Error::NotFound {
            reference: r.to_string(),
        })
    }
    async fn config_digest(&self, r: &ImageRef) -> Result<Digest, registry::Error> {
        Err(registry::Error::NotFound {
            reference: r.to_string(),
        })
    }
    async fn list_tags(&self, r: &ImageRef) -> Result<Vec<String>, registry::Error> {
        Err(registry::Error::NotFound {
            reference: r.name(),
        })
    }
    async fn credentials(&self, _: &str) -> Option<Credentials> {
        None
    }
}

/// An image as the fake engine stores it.
pub fn image(id: &Digest, repo_digest: &str) -> ImageInspect {
    ImageInspect {
        id: Some(id.to_string()),
        repo_digests: Some(vec![repo_digest.to_string()]),
        os: Some("linux".into()),
        architecture: Some("amd64".into()),
        config: Some(bollard::models::ImageConfig {
            cmd: Some(vec!["serve".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A running container as the fake engine stores it.
pub fn container(
    name: &str,
    id_seed: u8,
    image: &Digest,
    configured: &str,
) -> ContainerInspectResponse {
    let mut c = ContainerInspectResponse {
        id: Some(format!("{id_seed:02x}").repeat(32)),
        name: Some(format!("/{name}")),
        image: Some(image.to_string()),
        config: Some(ContainerConfig {
            image: Some(configured.into()),
            cmd: Some(vec!["serve".into()]),
            env: Some(vec!["OP=1".into()]),
            labels: Some([("refit.enable".to_string(), "true".to_string())].into()),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            network_mode: Some("bridge".into()),
            restart_policy: Some(BollardRestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: Some(0),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    set_running(&mut c, true);
    c
}
