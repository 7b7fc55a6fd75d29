//! Unit tests of the configuration diff: what survives, what follows the new image, what is
//! never copied.

use std::collections::HashMap;

use bollard::models::{
    ContainerConfig, ContainerInspectResponse, EndpointIpamConfig, EndpointSettings, HealthConfig,
    HostConfig, ImageConfig, ImageInspect, Mount, MountPoint, MountType, NetworkSettings,
    RestartPolicy, RestartPolicyNameEnum,
};

use super::*;

const ID: &str = "fed09d6e45c0f940bb86378ef377e6750d3702686cef3bfa82feae0c2c1e8b5b";

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

fn map(items: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn health(cmd: &str) -> HealthConfig {
    HealthConfig {
        test: strings(&["CMD-SHELL", cmd]),
        interval: Some(1_000_000_000),
        ..Default::default()
    }
}

/// The old image's defaults, as `docker image inspect` shows them.
fn old_image() -> ImageInspect {
    ImageInspect {
        id: Some(format!("sha256:{}", "1".repeat(64))),
        config: Some(ImageConfig {
            env: strings(&["PATH=/bin", "A=1"]),
            cmd: strings(&["serve"]),
            entrypoint: strings(&["/init"]),
            labels: map(&[("img", "old"), ("org.opencontainers.image.version", "1.0")]),
            exposed_ports: strings(&["80/tcp"]),
            volumes: strings(&["/data"]),
            working_dir: Some("/w".into()),
            user: Some("app".into()),
            healthcheck: Some(health("wget -q localhost")),
            stop_signal: Some("SIGQUIT".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A container that took every default from its image and set a few things of its own.
fn old_container() -> ContainerInspectResponse {
    ContainerInspectResponse {
        id: Some(ID.into()),
        name: Some("/web".into()),
        config: Some(ContainerConfig {
            hostname: Some(ID[..12].into()),
            env: strings(&["OP=x", "PATH=/bin", "A=1"]),
            cmd: strings(&["serve"]),
            entrypoint: strings(&["/init"]),
            image: Some("127.0.0.1:5000/web:1".into()),
            labels: map(&[
                ("img", "old"),
                ("org.opencontainers.image.version", "1.0"),
                ("refit.enable", "true"),
            ]),
            exposed_ports: strings(&["80/tcp", "9000/udp"]),
            volumes: strings(&["/data", "/data2"]),
            working_dir: Some("/w".into()),
            user: Some("app".into()),
            healthcheck: Some(health("wget -q localhost")),
            stop_signal: Some("SIGQUIT".into()),
            stop_timeout: Some(3),
            ..Default::default()
        }),
        host_config: Some(HostConfig {
            network_mode: Some("appnet".into()),
            binds: strings(&["named:/named", "/srv/conf:/conf:ro"]),
            mounts: Some(vec![Mount {
                target: Some("/data3".into()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: Some(0),
            }),
            links: strings(&["/db:/web/database"]),
            container_id_file: Some("/tmp/id".into()),
            masked_paths: strings(&["/proc/kcore"]),
            memory: Some(64 << 20),
            cap_add: strings(&["CAP_NET_ADMIN"]),
            ..Default::default()
        }),
        mounts: Some(vec![
            mount_point("named", "/named", true),
            mount_point(&"a".repeat(64), "/data", true),
            mount_point(&"b".repeat(64), "/data2", false),
            mount_point(&"c".repeat(64), "/data3", true),
            MountPoint {
                typ: Some("bind".into()),
                source: Some("/srv/conf".into()),
                destination: Some("/conf".into()),
                ..Default::default()
            },
        ]),
        network_settings: Some(NetworkSettings {
            networks: Some(
                [
                    (
                        "appnet".to_string(),
                        EndpointSettings {
                            aliases: strings(&["web-alias", &ID[..12]]),
                            ipam_config: Some(EndpointIpamConfig {
                                ipv4_address: Some("172.30.0.50".into()),
                                ..Default::default()
                            }),
                            network_id: Some("n1".into()),
                            endpoint_id: Some("e1".into()),
                            ip_address: Some("172.30.0.50".into()),
                            mac_address: Some("02:42:ac:1e:00:32".into()),
                            ..Default::default()
                        },
                    ),
                    (
                        "bridge".to_string(),
                        EndpointSettings {
                            ipam_config: Some(EndpointIpamConfig::default()),
                            aliases: Some(vec![]),
                            ..Default::default()
                        },
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn mount_point(name: &str, destination: &str, rw: bool) -> MountPoint {
    MountPoint {
        typ: Some("volume".into()),
        name: Some(name.into()),
        destination: Some(destination.into()),
        rw: Some(rw),
        ..Default::default()
    }
}

fn target() -> Target {
    Target {
        image: "127.0.0.1:5000/web:1".into(),
        image_id: format!("sha256:{}", "2".repeat(64)).parse().unwrap(),
        platform: Some(Platform::new("linux", "amd64", "")),
        network_container: None,
        engine_host_name: Some("vm".into()),
    }
}

fn build(old: &ContainerInspectResponse) -> CreateSpec {
    successor(old, &old_image(), &target()).unwrap()
}

#[test]
fn image_defaults_are_not_pinned() {
    let body = build(&old_container()).body;
    assert_eq!(body.env, strings(&["OP=x"]));
    assert_eq!(
        body.cmd, None,
        "cmd equal to the image's follows the new image"
    );
    assert_eq!(body.entrypoint, None);
    assert_eq!(body.working_dir, None);
    assert_eq!(body.user, None);
    assert_eq!(body.healthcheck, None);
    assert_eq!(body.stop_signal, None);
    assert_eq!(body.exposed_ports, strings(&["9000/udp"]));
    assert_eq!(body.volumes, strings(&["/data2"]));
    assert_eq!(body.labels, map(&[("refit.enable", "true")]));
}

/// `--health-cmd` alone: the engine filled interval and retries from the image, so they are
/// the image's and must follow the new one; an interval the operator changed stays.
#[test]
fn healthcheck_fields_follow_the_image_one_by_one() {
    let mut old = old_container();
    let config = old.config.as_mut().unwrap();
    config.healthcheck = Some(HealthConfig {
        test: strings(&["CMD-SHELL", "test -d /op"]),
        interval: Some(1_000_000_000),
        timeout: Some(5_000_000_000),
        retries: Some(0),
        ..Default::default()
    });
    let body = build(&old).body;
    assert_eq!(
        body.healthcheck,
        Some(HealthConfig {
            test: strings(&["CMD-SHELL", "test -d /op"]),
            timeout: Some(5_000_000_000),
            ..Default::default()
        })
    );

    let config = old.config.as_mut().unwrap();
    config.healthcheck = Some(health("wget -q localhost"));
    assert_eq!(
        build(&old).body.healthcheck,
        None,
        "all the image's: none pinned"
    );
}

#[test]
fn operator_values_survive() {
    let mut old = old_container();
    let config = old.config.as_mut().unwrap();
    config.cmd = strings(&["serve", "--verbose"]);
    config.working_dir = Some("/elsewhere".into());
    config.user = Some("1000:1000".into());
    config.healthcheck = Some(health("true"));
    config.hostname = Some("myhost".into());
    config.domainname = Some("example.org".into());
    config
        .labels
        .as_mut()
        .unwrap()
        .insert("img".into(), "overridden".into());
    config.tty = Some(true);
    let body = build(&old).body;
    assert_eq!(body.cmd, strings(&["serve", "--verbose"]));
    assert_eq!(body.working_dir.as_deref(), Some("/elsewhere"));
    assert_eq!(body.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        body.healthcheck,
        Some(HealthConfig {
            test: strings(&["CMD-SHELL", "true"]),
            ..Default::default()
        }),
        "the test is the operator's; the interval equal to the image's follows the new image"
    );
    assert_eq!(body.hostname.as_deref(), Some("myhost"));
    assert_eq!(body.domainname.as_deref(), Some("example.org"));
    assert_eq!(
        body.labels.unwrap().get("img").map(String::as_str),
        Some("overridden")
    );
    assert_eq!(body.tty, Some(true));
    assert_eq!(body.stop_timeout, Some(3));
    assert_eq!(body.image.as_deref(), Some("127.0.0.1:5000/web:1"));
}

#[test]
fn a_pinned_entrypoint_pins_cmd_as_it_is() {
    let mut old = old_container();
    let config = old.config.as_mut().unwrap();
    config.entrypoint = strings(&["/bin/sh", "-c"]);
    config.cmd = None;
    let body = build(&old).body;
    assert_eq!(body.entrypoint, strings(&["/bin/sh", "-c"]));
    assert_eq!(body.cmd, None);
    let mut old = old_container();
    old.config.as_mut().unwrap().entrypoint = strings(&["/other"]);
    assert_eq!(
        build(&old).body.cmd,
        strings(&["serve"]),
        "cmd given with an entrypoint is the operator's"
    );
}

#[test]
fn default_hostname_is_not_pinned() {
    assert_eq!(build(&old_container()).body.hostname, None);
}

#[test]
fn host_config_survives_without_runtime_state() {
    let host = build(&old_container()).body.host_config.unwrap();
    assert_eq!(host.memory, Some(64 << 20));
    assert_eq!(host.cap_add, strings(&["CAP_NET_ADMIN"]));
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED)
    );
    assert_eq!(host.links, strings(&["db:database"]));
    assert_eq!(host.container_id_file, None);
    assert_eq!(host.masked_paths, None);
    assert_eq!(host.network_mode.as_deref(), Some("appnet"));
}

#[test]
fn anonymous_volumes_are_reattached_by_name() {
    let host = build(&old_container()).body.host_config.unwrap();
    let binds = host.binds.unwrap();
    assert!(binds.contains(&"named:/named".to_string()));
    assert!(binds.contains(&"/srv/conf:/conf:ro".to_string()));
    assert!(
        binds.contains(&format!("{}:/data", "a".repeat(64))),
        "image VOLUME keeps its data: {binds:?}"
    );
    assert!(
        binds.contains(&format!("{}:/data2:ro", "b".repeat(64))),
        "-v /data2 keeps its data and mode"
    );
    assert_eq!(
        binds.len(),
        4,
        "the --mount volume is named in place, not doubled: {binds:?}"
    );
    let mount = &host.mounts.unwrap()[0];
    assert_eq!(mount.source, Some("c".repeat(64)));
}

#[test]
fn networks_keep_aliases_and_static_addresses_only() {
    let networking = build(&old_container()).body.networking_config.unwrap();
    let endpoints = networking.endpoints_config.unwrap();
    let app = &endpoints["appnet"];
    assert_eq!(app.aliases, strings(&["web-alias"]));
    assert_eq!(
        app.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
        Some("172.30.0.50")
    );
    assert_eq!(
        (
            app.network_id.clone(),
            app.endpoint_id.clone(),
            app.mac_address.clone(),
            app.ip_address.clone()
        ),
        (None, None, None, None)
    );
    let bridge = &endpoints["bridge"];
    assert_eq!(*bridge, EndpointSettings::default());
}

#[test]
fn container_network_mode_is_repointed() {
    let mut old = old_container();
    old.host_config.as_mut().unwrap().network_mode = Some("container:0ldpeer".into());
    old.config.as_mut().unwrap().hostname = Some("0ldpeer00000".into());
    let mut t = target();
    assert_eq!(
        successor(&old, &old_image(), &t),
        Err(RecreateError::NetworkPeerGone("0ldpeer".into()))
    );
    t.network_container = Some("newpeer".into());
    let spec = successor(&old, &old_image(), &t).unwrap();
    assert_eq!(
        spec.body.host_config.unwrap().network_mode.as_deref(),
        Some("container:newpeer")
    );
    assert_eq!(spec.body.networking_config, None);
    assert_eq!(
        spec.body.hostname, None,
        "the peer's hostname is not this container's to set"
    );
}

#[test]
fn host_network_drops_the_engine_hostname() {
    let mut old = old_container();
    old.host_config.as_mut().unwrap().network_mode = Some("host".into());
    old.config.as_mut().unwrap().hostname = Some("vm".into());
    let body = build(&old).body;
    assert_eq!(body.hostname, None);
    assert_eq!(body.networking_config, None);
}

#[test]
fn compose_image_label_names_the_new_image() {
    let mut old = old_container();
    old.config
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert(COMPOSE_IMAGE_LABEL.into(), "sha256:old".into());
    let labels = build(&old).body.labels.unwrap();
    assert_eq!(labels[COMPOSE_IMAGE_LABEL], target().image_id.to_string());
}

#[test]
fn requirements_list_user_networks_and_named_volumes() {
    let (networks, volumes) = requirements(&build(&old_container()));
    assert_eq!(networks, vec!["appnet".to_string()]);
    assert!(volumes.contains(&"named".to_string()));
    assert!(volumes.contains(&"c".repeat(64)));
}

#[test]
fn keeps_the_platform() {
    assert_eq!(
        build(&old_container()).platform,
        Some(Platform::new("linux", "amd64", ""))
    );
}
