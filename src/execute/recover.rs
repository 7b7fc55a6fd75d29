//! Recovery: finishing the journal rows that no process finished (refit was killed, the host
//! rebooted, the engine went away during an undo). It runs before every update pass and
//! before `refit rollback`, so `refit run` and `refit update` both do it first.
//!
//! What to do is decided by `decide`, a pure table of (last step journaled, what the engine
//! shows) → action: until the health gate accepted the successor, the update is undone (the
//! old container gets its name, restart policy and running state back); after, it is
//! completed (the old container removed). The engine's own state is read rather than
//! trusted from the journal, since a step is journaled before it is taken and may not have
//! happened. docs/recovery.md lists every case.

use chrono::Utc;
use tracing::{info, warn};

use crate::engine::{Engine, RestartPolicy};
use crate::model::ImageRef;
use crate::plan::PARKED_SUFFIX;
use crate::state::{self, Step, Store, Unfinished};

/// One container of an unfinished update, as the engine shows it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub id: String,
    /// It carries `<name>.refit-old`.
    pub parked: bool,
    pub running: bool,
    /// Its `Config.Image`.
    pub configured_image: String,
}

/// The old container and the successor, when they exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub old: Option<Seen>,
    pub new: Option<Seen>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Back to the old container: each flag is a step still to take.
    Undo {
        remove_new: bool,
        rename_back: bool,
        restore_policy: bool,
        start_old: bool,
    },
    /// Keep the successor: start it if it should run, remove the old container if left.
    Complete { start_new: bool, remove_old: bool },
    /// Neither container exists: nothing to run, only to report.
    Lost,
}

/// The recovery table. `was_running`: the old container ran before the update (a stopped
/// container is left stopped, on whichever image it ends on).
pub fn decide(step: Step, was_running: bool, found: &Found) -> Action {
    let complete = |new: &Seen| Action::Complete {
        start_new: was_running && !new.running,
        remove_old: found.old.is_some(),
    };
    match (&found.old, &found.new) {
        (_, Some(new)) if step.accepted() => complete(new),
        (Some(old), new) => Action::Undo {
            remove_new: new.is_some(),
            rename_back: old.parked,
            // Parking sets the policy to `no` before the rename; setting it again is harmless.
            restore_policy: step >= Step::Parked,
            start_old: was_running && !old.running,
        },
        // An auto-removed (`--rm`) old container is gone once stopped: the successor is all
        // there is, so it is kept whatever the step.
        (None, Some(new)) => complete(new),
        (None, None) => Action::Lost,
    }
}

/// What recovery did with one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub name: String,
    pub step: Step,
    pub action: Action,
    /// `Ok(sentence)` when the row could be finished; `Err` leaves it open for next time.
    pub result: Result<String, String>,
}

/// Finish every unfinished row that is not another live refit's. Errors of the state
/// database end recovery (nothing is known); an engine error leaves that row open.
pub async fn recover(engine: &dyn Engine, journal: &Store) -> Result<Vec<Recovered>, state::Error> {
    let mut done = Vec::new();
    for row in journal.unfinished()? {
        if owned_by_another_live_refit(row.owner_pid) {
            info!(container.name = %row.update.name, pid = row.owner_pid, "update in progress in another refit; left alone");
            continue;
        }
        let recovered = recover_row(engine, &row).await;
        if let Ok(reason) = &recovered.result {
            let (step, outcome) = match recovered.action {
                Action::Complete { .. } => (Step::Done, "updated"),
                Action::Undo { .. } => (Step::Restored, "failed"),
                Action::Lost => (Step::Restored, "failed"),
            };
            journal.finish(row.id, step, outcome, reason, Utc::now())?;
        }
        match &recovered.result {
            Ok(reason) => {
                warn!(container.name = %recovered.name, step = row.step.as_str(), reason = %reason, "interrupted update recovered");
            }
            Err(e) => {
                warn!(container.name = %recovered.name, step = row.step.as_str(), error = %e, "interrupted update not recovered yet");
            }
        }
        done.push(recovered);
    }
    Ok(done)
}

async fn recover_row(engine: &dyn Engine, row: &Unfinished) -> Recovered {
    let update = &row.update;
    let mut recovered = Recovered {
        name: update.name.clone(),
        step: row.step,
        action: Action::Lost,
        result: Err(String::new()),
    };
    let found = match find(engine, row).await {
        Ok(found) => found,
        Err(e) => {
            recovered.result = Err(e);
            return recovered;
        }
    };
    recovered.action = decide(row.step, update.was_running, &found);
    recovered.result = apply(engine, row, &found, &recovered.action).await;
    recovered
}

async fn find(engine: &dyn Engine, row: &Unfinished) -> Result<Found, String> {
    let update = &row.update;
    let old = seen(engine, &update.container_id, &update.name).await?;
    // Killed between create and journaling its id: the successor is whoever else holds
    // the name (the old container does not, once parked).
    let lookup = row.new_container.as_deref().unwrap_or(&update.name);
    let new = seen(engine, lookup, &update.name)
        .await?
        .filter(|c| c.id != update.container_id && !c.parked);
    Ok(Found { old, new })
}

async fn seen(engine: &dyn Engine, id: &str, name: &str) -> Result<Option<Seen>, String> {
    match engine.inspect_container(id).await {
        Ok(c) => Ok(Some(Seen {
            id: c.id.unwrap_or_default(),
            parked: c.name.as_deref() == Some(&format!("/{name}{PARKED_SUFFIX}")),
            running: c.state.and_then(|s| s.running).unwrap_or(false),
            configured_image: c.config.and_then(|c| c.image).unwrap_or_default(),
        })),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

async fn apply(
    engine: &dyn Engine,
    row: &Unfinished,
    found: &Found,
    action: &Action,
) -> Result<String, String> {
    let update = &row.update;
    let at = row.step.as_str();
    match (action, &found.old, &found.new) {
        (
            Action::Undo {
                remove_new,
                rename_back,
                restore_policy,
                start_old,
            },
            Some(old),
            new,
        ) => {
            if let (true, Some(new)) = (remove_new, new) {
                engine
                    .remove_container(&new.id)
                    .await
                    .map_err(|e| format!("cannot remove the new container: {e}"))?;
            }
            if *rename_back {
                engine
                    .rename_container(&old.id, &update.name)
                    .await
                    .map_err(|e| format!("cannot rename the old container back: {e}"))?;
            }
            if let (true, Some((name, retries))) = (restore_policy, &update.restart_policy) {
                let policy = RestartPolicy {
                    name: name.clone(),
                    maximum_retry_count: *retries,
                };
                engine
                    .set_restart_policy(&old.id, &policy)
                    .await
                    .map_err(|e| format!("cannot restore the restart policy: {e}"))?;
            }
            put_tag_back(engine, row, old).await;
            if *start_old {
                engine
                    .start_container(&old.id)
                    .await
                    .map_err(|e| format!("cannot start the old container: {e}"))?;
            }
            Ok(format!(
                "interrupted after {at}; recovery restored the old container"
            ))
        }
        (
            Action::Complete {
                start_new,
                remove_old,
            },
            old,
            Some(new),
        ) => {
            if *start_new {
                engine
                    .start_container(&new.id)
                    .await
                    .map_err(|e| format!("cannot start the new container: {e}"))?;
            }
            if let (true, Some(old)) = (remove_old, old) {
                engine
                    .remove_container(&old.id)
                    .await
                    .map_err(|e| format!("cannot remove the old container: {e}"))?;
            }
            Ok(format!(
                "interrupted after {at}; recovery completed the update"
            ))
        }
        _ => Ok(format!(
            "interrupted after {at}; neither the old nor the new container exists any more"
        )),
    }
}

/// The update moved the tag the old container follows to the new image: move it back. Only
/// when it is the same reference (a semver update moved another tag, which stays).
async fn put_tag_back(engine: &dyn Engine, row: &Unfinished, old: &Seen) {
    let (Ok(target), Ok(own)) = (
        row.update.reference.parse::<ImageRef>(),
        old.configured_image.parse::<ImageRef>(),
    ) else {
        return;
    };
    if target != own || row.update.old_image == row.update.new_image {
        return;
    }
    let tag = target.tag().unwrap_or("latest");
    if let Err(e) = engine
        .tag_image(&row.update.old_image, &target.name(), tag)
        .await
    {
        warn!(error = %e, "cannot move the tag back to the old image");
    }
}

/// Whether the row's owner is another refit still running (a daemon beside a `refit update`):
/// its update is in flight, not interrupted. A pid reused by another program, or our own
/// pid from an earlier life (pid 1 in a container), is not.
fn owned_by_another_live_refit(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    let comm = |p: &str| std::fs::read_to_string(format!("/proc/{p}/comm")).ok();
    match (comm(&pid.to_string()), comm("self")) {
        (Some(theirs), Some(mine)) => theirs == mine,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
