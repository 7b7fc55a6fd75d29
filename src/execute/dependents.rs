//! Dependents of an updated container (linked to it, sharing its network namespace, or naming
//! it in `refit.depends-on` or compose's `depends_on`; see `plan::order`) are stopped before
//! it, last first, and started after it, first first. A namespace sharer is recreated instead
//! (through the same transaction as an update, on its own image), because its
//! `container:<id>` still names the old container.
//!
//! Each dependent stopped gets a journal row of its own (kind `restart`, step `stopped`)
//! before its stop, finished after its start: a refit killed in between leaves the row, and
//! recovery (newest row first, so after the container it depended on) starts it again.

use std::time::Duration;

use tracing::{info, warn};

use super::Settings;
use super::health::Gate;
use super::update::{Change, Outcome, Record, Transaction};
use crate::engine::Engine;
use crate::model::{Container, ContainerId, NetworkMode, RunState, Snapshot};
use crate::state::{NewUpdate, Step, Store, UpdateKind};

/// What bringing dependents back needs from the executor.
pub(super) struct Context<'a> {
    pub engine: &'a dyn Engine,
    pub snapshot: &'a Snapshot,
    pub settings: &'a Settings,
    pub journal: &'a Store,
}

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

/// A dependent to bring back, with its journal row when it was stopped.
pub(super) struct Held<'a> {
    container: &'a Container,
    row: Option<i64>,
}

/// Stop the running dependents that will be restarted, last first. Returns every dependent
/// to bring back after the update, in start order.
pub(super) async fn stop<'a>(
    context: &Context<'_>,
    snapshot: &'a Snapshot,
    dependents: &[ContainerId],
) -> Vec<Held<'a>> {
    let mut to_bring_back = Vec::new();
    for treatment in treatments(snapshot, dependents).into_iter().rev() {
        match treatment {
            Treatment::Restart(c) => {
                let row = journal_stop(context.journal, c);
                let timeout = context.settings.stop_timeout;
                match context.engine.stop_container(c.id.as_str(), timeout).await {
                    Ok(()) => to_bring_back.insert(0, Held { container: c, row }),
                    Err(e) => {
                        warn!(dependent = %c.name, error = %e, "cannot stop dependent");
                        finish(context.journal, row, "failed", &e.to_string());
                    }
                }
            }
            Treatment::Repoint(c) => to_bring_back.insert(
                0,
                Held {
                    container: c,
                    row: None,
                },
            ),
        }
    }
    to_bring_back
}

/// Begin a dependent's `restart` row at `stopped`; `None` (logged) when the journal fails:
/// the dependent is still stopped and started, only not recoverable.
fn journal_stop(journal: &Store, container: &Container) -> Option<i64> {
    let image = container.image_id.to_string();
    let update = NewUpdate {
        kind: UpdateKind::Restart,
        container_id: container.id.to_string(),
        name: container.name.clone(),
        reference: container.configured_image.clone(),
        old_image: image.clone(),
        old_digest: None,
        new_image: image,
        new_digest: None,
        was_running: true,
        restart_policy: None,
    };
    let now = chrono::Utc::now();
    let row = journal
        .begin(&update, now)
        .and_then(|row| journal.record_step(row, Step::Stopped, now).map(|()| row));
    match row {
        Ok(row) => Some(row),
        Err(e) => {
            warn!(dependent = %container.name, error = %e, "cannot journal the dependent's stop");
            None
        }
    }
}

fn finish(journal: &Store, row: Option<i64>, outcome: &str, reason: &str) {
    if let Some(row) = row
        && let Err(e) = journal.finish(row, Step::Done, outcome, reason, chrono::Utc::now())
    {
        warn!(error = %e, "cannot finish the dependent's journal row");
    }
}

/// Bring dependents back in order: start the stopped ones, recreate namespace sharers.
pub(super) async fn bring_back(context: &Context<'_>, dependents: &[Held<'_>]) {
    for held in dependents {
        let container = held.container;
        let result = match container.network_mode {
            NetworkMode::Container(_) => repoint(context, container).await,
            _ => context
                .engine
                .start_container(container.id.as_str())
                .await
                .map_err(|e| e.to_string()),
        };
        match &result {
            Ok(()) => info!(dependent = %container.name, "dependent back"),
            Err(e) => warn!(dependent = %container.name, error = %e, "cannot bring dependent back"),
        }
        // A failed start leaves the row open: recovery tries again on the next pass.
        if result.is_ok() {
            finish(
                context.journal,
                held.row,
                "updated",
                "restarted around an update",
            );
        }
    }
}

async fn repoint(context: &Context<'_>, container: &Container) -> Result<(), String> {
    let change = Change {
        image_id: container.image_id.clone(),
        platform: context
            .snapshot
            .image_of(container)
            .map(|i| i.platform.clone()),
        retag: None,
        // Its own image did not change: it only has to come up, not prove its health again.
        gate: Gate {
            wait: Duration::ZERO,
            health_timeout: None,
            rollback: true,
        },
        is_self: false,
        record: Record {
            kind: UpdateKind::Repoint,
            reference: container.configured_image.clone(),
            old_digest: None,
            new_digest: None,
        },
        copy: crate::policy::copy_paths(container),
        // Already stopped with the dependents: nothing to stop here.
        stop_signal: None,
    };
    let transaction = Transaction::new(
        context.engine,
        context.snapshot,
        context.settings,
        context.journal,
        container,
        change,
    );
    match transaction.run().await {
        Outcome::Updated { .. } => Ok(()),
        Outcome::Failed(why) | Outcome::RolledBack(why) | Outcome::Skipped(why) => Err(why),
    }
}
