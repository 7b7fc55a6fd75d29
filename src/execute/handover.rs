//! Self-update, the successor's half. refit cannot stop the container it runs in and go on, so
//! its own update parks the old container (renamed `<name>.refit-old`, restart policy `no`)
//! *without stopping it*, starts the successor beside it, waits out the health gate and exits.
//! The successor, before its first pass, waits for that predecessor to exit and removes it:
//! until then it does nothing, so two refit instances never act at once.

use std::time::Duration;

use tokio::time::Instant;

use tracing::{info, warn};

use crate::engine::Engine;
use crate::plan::PARKED_SUFFIX;

/// How long the successor waits for its predecessor to exit on its own: the predecessor's
/// health wait plus the end of its pass. Past it, the predecessor is stopped.
const PATIENCE: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(500);
/// The stop timeout for a predecessor that would not exit on its own.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What `adopt` found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handover {
    /// No parked predecessor: an ordinary start.
    Nothing,
    /// The predecessor exited and was removed.
    Adopted { predecessor: String },
}

/// In the container `own_id`: wait for a parked predecessor to exit, then remove it. An error
/// is a sentence; the caller logs it and goes on (a leftover parked container harms nothing:
/// it is stopped, its restart policy is `no`, and passes skip it).
pub async fn adopt(engine: &dyn Engine, own_id: &str) -> Result<Handover, String> {
    let me = engine
        .inspect_container(own_id)
        .await
        .map_err(|e| format!("cannot inspect refit's own container: {e}"))?;
    let name = me
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/');
    if name.is_empty() || name.ends_with(PARKED_SUFFIX) {
        return Ok(Handover::Nothing);
    }
    let parked = format!("{name}{PARKED_SUFFIX}");
    let predecessor = match engine.inspect_container(&parked).await {
        Ok(found) => found.id.unwrap_or(parked.clone()),
        Err(e) if e.is_not_found() => return Ok(Handover::Nothing),
        Err(e) => return Err(format!("cannot inspect {parked}: {e}")),
    };
    info!(predecessor = %parked, "waiting for the previous refit to hand over");
    let deadline = Instant::now() + PATIENCE;
    while running(engine, &predecessor).await? {
        if Instant::now() >= deadline {
            warn!(predecessor = %parked, "the previous refit did not exit; stopping it");
            engine
                .stop_container(&predecessor, STOP_TIMEOUT)
                .await
                .map_err(|e| format!("cannot stop {parked}: {e}"))?;
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    match engine.remove_container(&predecessor).await {
        Ok(()) => {}
        // Removed by the engine itself (auto-remove) once it exited.
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(format!("cannot remove {parked}: {e}")),
    }
    info!(predecessor = %parked, "took over from the previous refit");
    Ok(Handover::Adopted {
        predecessor: parked,
    })
}

async fn running(engine: &dyn Engine, id: &str) -> Result<bool, String> {
    match engine.inspect_container(id).await {
        Ok(found) => Ok(found
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false)),
        // Gone already (auto-remove): nothing to wait for.
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(format!("cannot inspect the previous refit: {e}")),
    }
}

#[cfg(test)]
mod tests;
