//! What the daemon and `refit update` remember in the state database beside first sightings
//! (tables of migration 2 in `state.rs`):
//!
//! - `announced`: the (container, digest) pairs a notification has announced as available, so
//!   that monitor-only mode says so once per new digest, across restarts too.
//! - `pass_history`: the last `HISTORY_KEPT` update passes, each with its counts and the
//!   containers that had something to report, for `GET /v1/history`. It is refit's own small
//!   table, kept until the update journal (issue 5) offers a history to read instead.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::report::{ContainerReport, OutcomeKind, Report};
use crate::state::{Error, Store};

/// Rows of `pass_history` kept; older passes are dropped as new ones are written.
pub const HISTORY_KEPT: usize = 200;

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// Of `pairs` (container name, digest), those never announced.
pub fn unannounced(
    store: &Store,
    pairs: &[(String, String)],
) -> Result<BTreeSet<(String, String)>, Error> {
    store.with_connection(|db, path| {
        let mut select = db
            .prepare_cached("SELECT 1 FROM announced WHERE container = ?1 AND digest = ?2")
            .map_err(sqlite(path))?;
        let mut fresh = BTreeSet::new();
        for (container, digest) in pairs {
            let known = select
                .exists(params![container, digest])
                .map_err(sqlite(path))?;
            if !known {
                fresh.insert((container.clone(), digest.clone()));
            }
        }
        Ok(fresh)
    })
}

pub fn mark_announced(store: &Store, pairs: &[(String, String)]) -> Result<(), Error> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    store.with_connection(|db, path| {
        let tx = db.transaction().map_err(sqlite(path))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO announced (container, digest, announced_at)
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(sqlite(path))?;
            for (container, digest) in pairs {
                insert
                    .execute(params![container, digest, now])
                    .map_err(sqlite(path))?;
            }
        }
        tx.commit().map_err(sqlite(path))
    })
}

/// A pass's counts, as `/v1/history` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub scanned: usize,
    pub updated: usize,
    pub failed: usize,
    pub rolled_back: usize,
    pub available: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn of(report: &Report) -> Summary {
        let count = |kind| {
            let matching = report.containers.iter().filter(|c| c.outcome == Some(kind));
            matching.count()
        };
        Summary {
            scanned: report.containers.len(),
            updated: count(OutcomeKind::Updated),
            failed: count(OutcomeKind::Failed),
            rolled_back: count(OutcomeKind::RolledBack),
            available: count(OutcomeKind::Available),
            skipped: count(OutcomeKind::Skipped),
        }
    }
}

/// Whether a container's line belongs in history and notifications: something changed or
/// could change.
pub fn is_notable(container: &ContainerReport) -> bool {
    matches!(
        container.outcome,
        Some(
            OutcomeKind::Updated
                | OutcomeKind::Failed
                | OutcomeKind::RolledBack
                | OutcomeKind::Available
        )
    )
}

/// One finished pass as `/v1/history` lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassRecord {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub mode: String,
    pub trigger: String,
    #[serde(flatten)]
    pub summary: Summary,
    /// The notable containers' report lines (see `is_notable`), as in the JSON report.
    pub containers: serde_json::Value,
}

pub fn record_pass(store: &Store, report: &Report, trigger: &str) -> Result<(), Error> {
    let stamp = |at: &chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let notable: Vec<&ContainerReport> =
        report.containers.iter().filter(|c| is_notable(c)).collect();
    // Plain owned data with string keys: serialising cannot fail.
    let summary = serde_json::to_string(&Summary::of(report)).unwrap_or_default();
    let containers = serde_json::to_string(&notable).unwrap_or_else(|_| "[]".into());
    store.with_connection(|db, path| {
        let tx = db.transaction().map_err(sqlite(path))?;
        tx.execute(
            "INSERT OR REPLACE INTO pass_history
             (id, started_at, finished_at, mode, trigger, summary, containers)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                report.pass.id,
                stamp(&report.pass.started_at),
                stamp(&report.pass.finished_at),
                report.pass.mode.as_str(),
                trigger,
                summary,
                containers
            ],
        )
        .map_err(sqlite(path))?;
        prune(&tx, path)?;
        tx.commit().map_err(sqlite(path))
    })
}

fn prune(db: &Connection, path: &Path) -> Result<(), Error> {
    db.execute(
        "DELETE FROM pass_history WHERE id NOT IN
         (SELECT id FROM pass_history ORDER BY started_at DESC LIMIT ?1)",
        params![HISTORY_KEPT as i64],
    )
    .map_err(sqlite(path))?;
    Ok(())
}

/// The `limit` most recent passes, newest first.
pub fn history(store: &Store, limit: usize) -> Result<Vec<PassRecord>, Error> {
    store.with_connection(|db, path| {
        let mut select = db
            .prepare_cached(
                "SELECT id, started_at, finished_at, mode, trigger, summary, containers
                 FROM pass_history ORDER BY started_at DESC LIMIT ?1",
            )
            .map_err(sqlite(path))?;
        let rows = select
            .query_map(params![limit as i64], |row| {
                let summary: String = row.get(5)?;
                let containers: String = row.get(6)?;
                Ok(PassRecord {
                    id: row.get(0)?,
                    started_at: row.get(1)?,
                    finished_at: row.get(2)?,
                    mode: row.get(3)?,
                    trigger: row.get(4)?,
                    // Written by `record_pass` above; a row damaged by hand reads as empty.
                    summary: serde_json::from_str(&summary).unwrap_or_default(),
                    containers: serde_json::from_str(&containers)
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(sqlite(path))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite(path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Mode, PassInfo};

    fn pair(container: &str, digest: &str) -> (String, String) {
        (container.to_string(), digest.to_string())
    }

    fn report(id: &str, outcome: OutcomeKind) -> Report {
        Report {
            pass: PassInfo {
                id: id.into(),
                started_at: Utc::now(),
                finished_at: Utc::now(),
                mode: Mode::Update,
            },
            containers: vec![ContainerReport {
                name: "web".into(),
                id: "abc".into(),
                host: "local".into(),
                image: "nginx".into(),
                target_image: None,
                current_digest: None,
                available_digest: None,
                decision: "update",
                outcome: Some(outcome),
                reason: String::new(),
                provenance: None,
                duration_seconds: None,
            }],
        }
    }

    #[test]
    fn an_announcement_is_remembered_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refit.db");
        let store = Store::new(&path);
        let pairs = [pair("web", "sha256:a"), pair("db", "sha256:b")];
        assert_eq!(unannounced(&store, &pairs).unwrap().len(), 2);
        mark_announced(&store, &pairs[..1]).unwrap();
        drop(store);
        let store = Store::new(&path);
        let fresh = unannounced(&store, &pairs).unwrap();
        assert_eq!(fresh, BTreeSet::from([pair("db", "sha256:b")]));
        // A new digest of an announced container is news again.
        let newer = [pair("web", "sha256:c")];
        assert_eq!(unannounced(&store, &newer).unwrap().len(), 1);
    }

    #[test]
    fn history_is_newest_first_with_notable_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("refit.db"));
        record_pass(&store, &report("one", OutcomeKind::UpToDate), "schedule").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        record_pass(&store, &report("two", OutcomeKind::Updated), "api").unwrap();
        let passes = history(&store, 10).unwrap();
        let ids: Vec<&str> = passes.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["two", "one"]);
        assert_eq!(passes[0].trigger, "api");
        assert_eq!(passes[0].summary.updated, 1);
        assert_eq!(passes[0].containers.as_array().unwrap().len(), 1);
        assert_eq!(passes[1].containers.as_array().unwrap().len(), 0);
        assert_eq!(history(&store, 1).unwrap().len(), 1);
    }
}
