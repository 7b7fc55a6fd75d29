//! Dependents of an updated container (linked to it, or sharing its network namespace) are
//! stopped before it and started after it. A namespace sharer is recreated instead (through
//! the same transaction as an update, on its own image), because its `container:<id>` still
//! names the old container.

use tracing::{info, warn};

use super::Settings;
use super::update::{Change, Outcome, Transaction};
use crate::engine::Engine;
use crate::model::{Container, ContainerId, NetworkMode, RunState, Snapshot};

/// What happens to one dependent around its dependency's update.
enum Treatment<'a> {
    /// Stopped before, started after.
    Restart(&'a Container),
    /// Left running, recreated after (its namespace dies with the old peer anyway).
    Repoint(&'a Container),
}

fn treatments<'a>(snapshot: &'a Snapshot, dependents: &[ContainerId]) -> Vec<Treatment<'a>> {
    dependents
        .iter()
        .filter_map(|id| snapshot.containers.iter().find(|c| c.id == *id))
        .filter(|c| c.state == RunState::Running)
        .map(|c| match c.network_mode {
            NetworkMode::Container(_) => Treatment::Repoint(c),
            _ => Treatment::Restart(c),
        })
        .collect()
}

/// Stop the running dependents that will be restarted, last first. Returns every dependent
/// to bring back after the update, in start order.
pub(super) async fn stop<'a>(
    engine: &dyn Engine,
    snapshot: &'a Snapshot,
    dependents: &[ContainerId],
    settings: &Settings,
) -> Vec<&'a Container> {
    let mut to_bring_back = Vec::new();
    for treatment in treatments(snapshot, dependents).into_iter().rev() {
        match treatment {
            Treatment::Restart(c) => match engine
                .stop_container(c.id.as_str(), settings.stop_timeout)
                .await
            {
                Ok(()) => to_bring_back.insert(0, c),
                Err(e) => warn!(dependent = %c.name, error = %e, "cannot stop dependent"),
            },
            Treatment::Repoint(c) => to_bring_back.insert(0, c),
        }
    }
    to_bring_back
}

/// Bring dependents back in order: start the stopped ones, recreate namespace sharers.
pub(super) async fn bring_back(
    engine: &dyn Engine,
    snapshot: &Snapshot,
    dependents: &[&Container],
    settings: &Settings,
) {
    for container in dependents {
        let result = match container.network_mode {
            NetworkMode::Container(_) => repoint(engine, snapshot, container, settings).await,
            _ => engine
                .start_container(container.id.as_str())
                .await
                .map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => info!(dependent = %container.name, "dependent back"),
            Err(e) => warn!(dependent = %container.name, error = %e, "cannot bring dependent back"),
        }
    }
}

async fn repoint(
    engine: &dyn Engine,
    snapshot: &Snapshot,
    container: &Container,
    settings: &Settings,
) -> Result<(), String> {
    let change = Change {
        image_id: container.image_id.clone(),
        platform: snapshot.image_of(container).map(|i| i.platform.clone()),
        retag: None,
    };
    match Transaction::new(engine, snapshot, settings, container, change)
        .run()
        .await
    {
        Outcome::Updated { .. } => Ok(()),
        Outcome::Failed(why) | Outcome::RolledBack(why) | Outcome::Skipped(why) => Err(why),
    }
}
