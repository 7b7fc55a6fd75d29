//! The daemon's heartbeat: `refit run` writes the time to a file beside the state database
//! every few seconds, and `refit healthcheck` (the container image's `HEALTHCHECK`; the image
//! has no shell or curl to probe with) says whether it is fresh. A daemon whose runtime is
//! wedged stops beating even while its process lives, which is what a healthcheck must see.
//! The beat runs on its own task, so a long pass (a big pull) does not make refit unhealthy.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// How often the daemon writes its heartbeat.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// A heartbeat older than this is unhealthy: four missed beats.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// `heartbeat` in the folder of the state database.
pub fn path_for(state_path: &Path) -> PathBuf {
    state_path.with_file_name("heartbeat")
}

/// Writes the heartbeat now and every `INTERVAL` until `shutdown`, then removes it, so a
/// stopped daemon is not reported healthy from a stale file.
pub async fn beat(path: PathBuf, shutdown: CancellationToken) {
    let mut warned = false;
    loop {
        match write(&path, Utc::now()) {
            Ok(()) => warned = false,
            // Once per outage: a read-only state folder must not flood the log.
            Err(e) if !warned => {
                warn!(path = %path.display(), error = %e, "cannot write the heartbeat");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            () = shutdown.cancelled() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn write(path: &Path, now: DateTime<Utc>) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename: a healthcheck never reads a half-written file.
    let partial = path.with_extension("partial");
    std::fs::write(&partial, now.to_rfc3339_opts(SecondsFormat::Millis, true))?;
    std::fs::rename(&partial, path)
}

/// How old the heartbeat at `path` is at `now`, or why there is none to trust.
pub fn age(path: &Path, now: DateTime<Utc>) -> Result<Duration, String> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "no heartbeat at {}: is `refit run` running with this state path?",
            path.display()
        ),
        _ => format!("cannot read the heartbeat {}: {e}", path.display()),
    })?;
    let at = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| format!("the heartbeat {} holds no time", path.display()))?;
    // A beat from the future (clock stepped back) counts as fresh: the daemon is alive.
    Ok((now - at.with_timezone(&Utc)).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_beat_is_read_back_with_its_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("refit.db"));
        // Whole seconds: the file keeps milliseconds.
        let then = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        write(&path, then).unwrap();
        let age = age(&path, then + chrono::Duration::seconds(20)).unwrap();
        assert_eq!(age, Duration::from_secs(20));
    }

    #[test]
    fn a_missing_or_garbled_beat_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heartbeat");
        assert!(age(&path, Utc::now()).unwrap_err().contains("no heartbeat"));
        std::fs::write(&path, "yesterday").unwrap();
        assert!(
            age(&path, Utc::now())
                .unwrap_err()
                .contains("holds no time")
        );
    }

    #[tokio::test]
    async fn the_beat_is_removed_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/heartbeat");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(beat(path.clone(), shutdown.clone()));
        let started = std::time::Instant::now();
        while !path.exists() && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(age(&path, Utc::now()).unwrap() < MAX_AGE);
        shutdown.cancel();
        task.await.unwrap();
        assert!(!path.exists());
    }
}
