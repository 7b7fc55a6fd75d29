//! Network endpoints for the successor: the same networks, aliases, static addresses, links
//! and driver options; none of the runtime state (endpoint and network ids, assigned
//! addresses, generated MACs, the old id among the aliases).

use std::collections::HashMap;

use bollard::models::{
    ContainerInspectResponse, EndpointIpamConfig, EndpointSettings, NetworkingConfig,
};

use crate::model::{ContainerId, NetworkMode};

pub(super) fn endpoints(
    old: &ContainerInspectResponse,
    mode: &NetworkMode,
    id: &ContainerId,
) -> Option<NetworkingConfig> {
    // host, none and container:<x> have no endpoints of their own to recreate.
    if matches!(
        mode,
        NetworkMode::Host | NetworkMode::None | NetworkMode::Container(_)
    ) {
        return None;
    }
    let networks = old.network_settings.as_ref()?.networks.as_ref()?;
    let endpoints: HashMap<String, EndpointSettings> = networks
        .iter()
        .map(|(name, settings)| (name.clone(), endpoint(name, settings, id)))
        .collect();
    (!endpoints.is_empty()).then_some(NetworkingConfig {
        endpoints_config: Some(endpoints),
    })
}

fn endpoint(network: &str, old: &EndpointSettings, id: &ContainerId) -> EndpointSettings {
    // The default bridge takes no aliases; elsewhere the engine adds the short id itself
    // (API 1.41 lists it among the aliases), so the old one must not be carried over.
    let aliases: Vec<String> = if network == "bridge" {
        Vec::new()
    } else {
        old.aliases
            .iter()
            .flatten()
            .filter(|a| a.as_str() != id.short())
            .cloned()
            .collect()
    };
    EndpointSettings {
        ipam_config: old.ipam_config.clone().filter(has_static_address),
        links: old.links.clone().filter(|l| !l.is_empty()),
        aliases: (!aliases.is_empty()).then_some(aliases),
        driver_opts: old.driver_opts.clone().filter(|o| !o.is_empty()),
        gw_priority: old.gw_priority.filter(|p| *p != 0),
        ..Default::default()
    }
}

fn has_static_address(ipam: &EndpointIpamConfig) -> bool {
    ipam.ipv4_address.as_deref().is_some_and(|a| !a.is_empty())
        || ipam.ipv6_address.as_deref().is_some_and(|a| !a.is_empty())
        || ipam.link_local_ips.as_ref().is_some_and(|l| !l.is_empty())
}
