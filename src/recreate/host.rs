//! HostConfig carry-over: everything the operator set is kept as inspect shows it, except the
//! fields that are runtime state or engine defaults, and anonymous volumes, which are pinned
//! by name so the successor mounts the same data instead of a fresh empty volume.

use bollard::models::{HostConfig, MountPoint, MountType};

use crate::engine::facts::link_target;

pub(super) fn carry_over(host: &mut HostConfig, mounts: &[MountPoint]) {
    // An id file is written at create and makes a second create with the same path fail.
    host.container_id_file = None;
    // Engine-filled defaults: pinning them would freeze today's list of masked paths into the
    // container for good. `--security-opt systempaths=unconfined` (in SecurityOpt) still
    // clears them on the successor.
    host.masked_paths = None;
    host.readonly_paths = None;
    host.console_size = None;
    host.links = host
        .links
        .take()
        .map(|links| links.iter().filter_map(|l| create_form_link(l)).collect());
    reattach_anonymous_volumes(host, mounts);
}

/// Inspect shows links as `/db:/web/alias`; create takes `db:alias`.
fn create_form_link(link: &str) -> Option<String> {
    let target = link_target(link)?;
    let alias = link
        .split_once(':')
        .map(|(_, a)| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or(&target);
    Some(format!("{target}:{alias}"))
}

/// The destination of a `src:dst[:opts]` bind.
fn bind_destination(bind: &str) -> Option<&str> {
    bind.split(':').nth(1)
}

/// An anonymous volume (`-v /data`, an image `VOLUME`, `--mount type=volume,dst=/x`) has no
/// name in the container's configuration; at create it would be a new empty volume. Name it.
fn reattach_anonymous_volumes(host: &mut HostConfig, mounts: &[MountPoint]) {
    let volumes = mounts.iter().filter(|m| m.typ.as_deref() == Some("volume"));
    for mount in volumes {
        let (Some(name), Some(destination)) = (mount.name.as_deref(), mount.destination.as_deref())
        else {
            continue;
        };
        let bound = host
            .binds
            .iter()
            .flatten()
            .any(|b| bind_destination(b) == Some(destination));
        if bound {
            continue;
        }
        let declared = host
            .mounts
            .iter_mut()
            .flatten()
            .find(|m| m.target.as_deref() == Some(destination));
        match declared {
            Some(declared) => {
                if declared.typ == Some(MountType::VOLUME)
                    && declared.source.as_deref().is_none_or(str::is_empty)
                {
                    declared.source = Some(name.to_string());
                }
            }
            None => {
                let read_only = if mount.rw == Some(false) { ":ro" } else { "" };
                host.binds
                    .get_or_insert_with(Vec::new)
                    .push(format!("{name}:{destination}{read_only}"));
            }
        }
    }
}

/// Named volumes a HostConfig mounts (binds whose source is not a path, volume mounts).
pub(super) fn named_volumes(host: &HostConfig) -> Vec<String> {
    let from_binds = host.binds.iter().flatten().filter_map(|b| {
        let source = b.split(':').next()?;
        (!source.starts_with('/') && !source.is_empty()).then(|| source.to_string())
    });
    let from_mounts = host.mounts.iter().flatten().filter_map(|m| {
        let source = m.source.as_deref().filter(|s| !s.is_empty())?;
        (m.typ == Some(MountType::VOLUME)).then(|| source.to_string())
    });
    let mut all: Vec<String> = from_binds.chain(from_mounts).collect();
    all.sort();
    all.dedup();
    all
}
