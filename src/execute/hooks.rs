//! Lifecycle hooks: commands the operator put in a container's labels, run inside it with
//! `sh -c` (as Watchtower does) and a timeout.
//!
//! What a hook's result does:
//! - `pre-update` exiting 0 lets the update go on. Exit 75 (`EX_TEMPFAIL`, Watchtower's
//!   convention) skips this update: the container is left untouched and reported `skipped`.
//!   Any other exit, a timeout or an engine error fails the update before anything was
//!   stopped: the container is left untouched and reported `failed`, naming the hook.
//! - `post-update` runs in the new container once it started; a failure is a warning in the
//!   report, the update stands (the old container is gone by design).
//! - `pre-check` and `post-check` run around the pass (`update` and `run`, never `check`,
//!   which changes nothing); a failure is logged and changes no decision.
//!
//! A hook only runs in a running container: a stopped one has nothing to exec into.

use std::time::Duration;

use tracing::{info, warn};

use crate::engine::Engine;

/// Watchtower's default hook timeout (one minute).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The exit status with which a `pre-update` hook asks to skip the update.
pub const EXIT_SKIP: i64 = 75;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookError {
    /// Exit 75: skip this update, not an error.
    Skip(String),
    Failed(String),
}

/// Run `command` (a `stage` hook such as `pre-update`) inside container `id`.
pub async fn run(
    engine: &dyn Engine,
    id: &str,
    stage: &str,
    command: &str,
    timeout: Option<Duration>,
) -> Result<(), HookError> {
    let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
    let cmd = ["sh".to_string(), "-c".to_string(), command.to_string()];
    let result = engine
        .exec(id, &cmd, timeout)
        .await
        .map_err(|e| HookError::Failed(format!("{stage} hook could not run: {e}")))?;
    let output = result.output.trim();
    let detail = if output.is_empty() {
        String::new()
    } else {
        format!(": {}", tail(output, 200))
    };
    match result.exit_code {
        Some(0) => {
            info!(hook = stage, "hook succeeded");
            Ok(())
        }
        Some(EXIT_SKIP) => Err(HookError::Skip(format!(
            "{stage} hook asked to skip the update (exit {EXIT_SKIP}){detail}"
        ))),
        Some(code) => Err(HookError::Failed(format!(
            "{stage} hook exited {code}{detail}"
        ))),
        None => Err(HookError::Failed(format!(
            "{stage} hook did not report an exit status"
        ))),
    }
}

/// Run a hook whose failure only warrants a warning; returns the warning.
pub async fn run_advisory(
    engine: &dyn Engine,
    id: &str,
    stage: &str,
    command: &str,
    timeout: Option<Duration>,
) -> Option<String> {
    match run(engine, id, stage, command, timeout).await {
        Ok(()) => None,
        Err(HookError::Skip(why) | HookError::Failed(why)) => {
            warn!(hook = stage, reason = %why, "hook failed");
            Some(why)
        }
    }
}

/// The last `max` bytes of `text`, on a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
