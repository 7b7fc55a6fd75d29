//! The update journal: one row per container update (or repoint, or manual rollback), whose
//! `step` is written *before* the step is taken, so that a refit killed at any point finds
//! the unfinished row on its next start and completes or undoes it (`execute::recover`).
//! Finished rows are the history (`refit history`). Digests rolled back are remembered here
//! too, so that the next pass does not try them again.
//!
//! Rows are written from the executor inline (a few rows per update, under the store's mutex).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Error, Store};
use crate::model::{Digest, ImageRef};

pub(super) const MIGRATION: &str = "
    CREATE TABLE updates (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL,
        container_id    TEXT NOT NULL,
        name            TEXT NOT NULL,
        reference       TEXT NOT NULL,
        old_image       TEXT NOT NULL,
        old_digest      TEXT,
        new_image       TEXT NOT NULL,
        new_digest      TEXT,
        was_running     INTEGER NOT NULL,
        restart_policy  TEXT,
        restart_retries INTEGER NOT NULL DEFAULT 0,
        new_container   TEXT,
        step            TEXT NOT NULL,
        owner_pid       INTEGER NOT NULL,
        started_at      TEXT NOT NULL,
        finished_at     TEXT,
        outcome         TEXT,
        reason          TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX updates_by_name ON updates (name, id);
    CREATE TABLE update_steps (
        update_id INTEGER NOT NULL REFERENCES updates (id),
        step      TEXT NOT NULL,
        at        TEXT NOT NULL
    );
    CREATE TABLE bad_digests (
        reference TEXT NOT NULL,
        digest    TEXT NOT NULL,
        at        TEXT NOT NULL,
        reason    TEXT NOT NULL,
        PRIMARY KEY (reference, digest)
    );";

/// What a journal row moves a container to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// A new image from the registry.
    Update,
    /// A namespace sharer recreated on its own image, pointed at its peer's new id.
    Repoint,
    /// `refit rollback`: back to the image the last update replaced.
    Rollback,
    /// A dependent stopped before its dependency's update and started after it.
    Restart,
}

impl UpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Update => "update",
            UpdateKind::Repoint => "repoint",
            UpdateKind::Rollback => "rollback",
            UpdateKind::Restart => "restart",
        }
    }

    fn parse(value: &str) -> UpdateKind {
        match value {
            "repoint" => UpdateKind::Repoint,
            "rollback" => UpdateKind::Rollback,
            "restart" => UpdateKind::Restart,
            _ => UpdateKind::Update,
        }
    }
}

/// The steps of an update, each journaled before it is taken. The last three end a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The image is pulled and verified, the successor's requirements checked: nothing is
    /// touched yet.
    Pulled,
    Stopped,
    /// Restart policy `no` and the name `<name>.refit-old`.
    Parked,
    Created,
    Started,
    /// The health gate accepted the successor (or rollback is off): it stays.
    Healthy,
    RemovedOld,
    /// Undoing after a failure or an unaccepted successor.
    Restoring,
    Done,
    RolledBack,
    Restored,
}

impl Step {
    pub const ALL: [Step; 11] = [
        Step::Pulled,
        Step::Stopped,
        Step::Parked,
        Step::Created,
        Step::Started,
        Step::Healthy,
        Step::RemovedOld,
        Step::Restoring,
        Step::Done,
        Step::RolledBack,
        Step::Restored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Pulled => "pulled",
            Step::Stopped => "stopped",
            Step::Parked => "parked",
            Step::Created => "created",
            Step::Started => "started",
            Step::Healthy => "healthy",
            Step::RemovedOld => "removed-old",
            Step::Restoring => "restoring",
            Step::Done => "done",
            Step::RolledBack => "rolled-back",
            Step::Restored => "restored",
        }
    }

    pub fn parse(value: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.as_str() == value.trim())
    }

    /// Whether the successor was accepted: from here on an interruption is completed, not
    /// undone.
    pub fn accepted(self) -> bool {
        matches!(self, Step::Healthy | Step::RemovedOld | Step::Done)
    }
}

/// A row as the executor starts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUpdate {
    pub kind: UpdateKind,
    /// The old container's id.
    pub container_id: String,
    pub name: String,
    /// The reference the container follows (normalised).
    pub reference: String,
    pub old_image: String,
    pub old_digest: Option<String>,
    pub new_image: String,
    pub new_digest: Option<String>,
    pub was_running: bool,
    /// The old container's restart policy (name, maximum retries), which parking sets to `no`.
    pub restart_policy: Option<(String, i64)>,
}

/// A row no process finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unfinished {
    pub id: i64,
    pub update: NewUpdate,
    /// The last step journaled: taken, or about to be.
    pub step: Step,
    /// The successor's id, once its create returned.
    pub new_container: Option<String>,
    pub owner_pid: u32,
}

/// A finished row, as `refit history` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub id: i64,
    pub kind: &'static str,
    pub container: String,
    pub container_id: String,
    pub reference: String,
    pub from_image: String,
    pub from_digest: Option<String>,
    pub to_image: String,
    pub to_digest: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    /// `updated`, `rolled-back` or `failed`.
    pub outcome: String,
    pub reason: String,
}

/// A digest that was rolled back: when, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadDigest {
    pub at: DateTime<Utc>,
    pub reason: String,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |source| Error::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

const HISTORY_COLUMNS: &str = "id, kind, name, container_id, reference, old_image, old_digest,
    new_image, new_digest, started_at, finished_at, outcome, reason";

fn history_row(row: &Row) -> rusqlite::Result<HistoryEntry> {
    let kind: String = row.get(1)?;
    Ok(HistoryEntry {
        id: row.get(0)?,
        kind: UpdateKind::parse(&kind).as_str(),
        container: row.get(2)?,
        container_id: row.get(3)?,
        reference: row.get(4)?,
        from_image: row.get(5)?,
        from_digest: row.get(6)?,
        to_image: row.get(7)?,
        to_digest: row.get(8)?,
        started_at: row.get(9)?,
        finished_at: row.get(10)?,
        outcome: row.get(11)?,
        reason: row.get(12)?,
    })
}

impl Store {
    /// Start a row at `Step::Pulled`, owned by this process; returns its id.
    pub fn begin(&self, update: &NewUpdate, now: DateTime<Utc>) -> Result<i64, Error> {
        self.with_connection(|db, path| {
            let (policy, retries) = update.restart_policy.clone().unzip();
            db.execute(
                "INSERT INTO updates (kind, container_id, name, reference, old_image, old_digest,
                     new_image, new_digest, was_running, restart_policy, restart_retries, step,
                     owner_pid, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    update.kind.as_str(),
                    update.container_id,
                    update.name,
                    update.reference,
                    update.old_image,
                    update.old_digest,
                    update.new_image,
                    update.new_digest,
                    update.was_running,
                    policy,
                    retries.unwrap_or(0),
                    Step::Pulled.as_str(),
                    std::process::id(),
                    stamp(now),
                ],
            )
            .map_err(sqlite(path))?;
            let id = db.last_insert_rowid();
            db.execute(
                "INSERT INTO update_steps (update_id, step, at) VALUES (?1, ?2, ?3)",
                params![id, Step::Pulled.as_str(), stamp(now)],
            )
            .map_err(sqlite(path))?;
            Ok(id)
        })
    }

    /// Journal `step` for row `id` (before taking it).
    pub fn record_step(&self, id: i64, step: Step, now: DateTime<Utc>) -> Result<(), Error> {
        self.with_connection(|db, path| {
            let tx = db.transaction().map_err(sqlite(path))?;
            tx.execute(
                "UPDATE updates SET step = ?2, owner_pid = ?3 WHERE id = ?1",
                params![id, step.as_str(), std::process::id()],
            )
            .map_err(sqlite(path))?;
            tx.execute(
                "INSERT INTO update_steps (update_id, step, at) VALUES (?1, ?2, ?3)",
                params![id, step.as_str(), stamp(now)],
            )
            .map_err(sqlite(path))?;
            tx.commit().map_err(sqlite(path))
        })
    }

    /// The successor's id, as soon as its create returned.
    pub fn set_new_container(&self, id: i64, container: &str) -> Result<(), Error> {
        self.with_connection(|db, path| {
            db.execute(
                "UPDATE updates SET new_container = ?2 WHERE id = ?1",
                params![id, container],
            )
            .map(|_| ())
            .map_err(sqlite(path))
        })
    }

    /// End row `id` at a final step with the report's outcome word and reason.
    pub fn finish(
        &self,
        id: i64,
        step: Step,
        outcome: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.record_step(id, step, now)?;
        self.with_connection(|db, path| {
            db.execute(
                "UPDATE updates SET finished_at = ?2, outcome = ?3, reason = ?4 WHERE id = ?1",
                params![id, stamp(now), outcome, reason],
            )
            .map(|_| ())
            .map_err(sqlite(path))
        })
    }

    /// The steps journaled for row `id`, in order.
    pub fn steps(&self, id: i64) -> Result<Vec<Step>, Error> {
        self.with_connection(|db, path| {
            let mut select = db
                .prepare("SELECT step FROM update_steps WHERE update_id = ?1 ORDER BY rowid")
                .map_err(sqlite(path))?;
            let rows = select
                .query_map(params![id], |row| row.get::<_, String>(0))
                .map_err(sqlite(path))?;
            let names: Vec<String> = rows.collect::<Result<_, _>>().map_err(sqlite(path))?;
            Ok(names.iter().filter_map(|n| Step::parse(n)).collect())
        })
    }

    /// Every row no process finished, newest first: recovery then restores a container before
    /// the dependents that were stopped (earlier) around its update.
    pub fn unfinished(&self) -> Result<Vec<Unfinished>, Error> {
        self.with_connection(|db, path| {
            let mut select = db
                .prepare(
                    "SELECT id, kind, container_id, name, reference, old_image, old_digest,
                        new_image, new_digest, was_running, restart_policy, restart_retries,
                        step, new_container, owner_pid
                     FROM updates WHERE finished_at IS NULL ORDER BY id DESC",
                )
                .map_err(sqlite(path))?;
            let rows = select
                .query_map([], |row| {
                    let kind: String = row.get(1)?;
                    let policy: Option<String> = row.get(10)?;
                    let step: String = row.get(12)?;
                    Ok(Unfinished {
                        id: row.get(0)?,
                        update: NewUpdate {
                            kind: UpdateKind::parse(&kind),
                            container_id: row.get(2)?,
                            name: row.get(3)?,
                            reference: row.get(4)?,
                            old_image: row.get(5)?,
                            old_digest: row.get(6)?,
                            new_image: row.get(7)?,
                            new_digest: row.get(8)?,
                            was_running: row.get(9)?,
                            restart_policy: policy.map(|p| (p, row.get(11).unwrap_or(0))),
                        },
                        // An unknown step (a newer refit wrote it) is undone as if just begun.
                        step: Step::parse(&step).unwrap_or(Step::Restoring),
                        new_container: row.get(13)?,
                        owner_pid: row.get(14)?,
                    })
                })
                .map_err(sqlite(path))?;
            rows.collect::<Result<_, _>>().map_err(sqlite(path))
        })
    }

    /// The last `limit` finished rows, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<HistoryEntry>, Error> {
        self.with_connection(|db, path| {
            // A dependent's restart around an update is part of that update, not a change.
            let sql = format!(
                "SELECT {HISTORY_COLUMNS} FROM updates
                 WHERE finished_at IS NOT NULL AND kind != 'restart'
                 ORDER BY id DESC LIMIT ?1"
            );
            let mut select = db.prepare(&sql).map_err(sqlite(path))?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = select
                .query_map(params![limit], history_row)
                .map_err(sqlite(path))?;
            rows.collect::<Result<_, _>>().map_err(sqlite(path))
        })
    }

    /// The last finished update (or manual rollback) that moved container `name` to another
    /// image: what `refit rollback` undoes.
    pub fn last_applied(&self, name: &str) -> Result<Option<HistoryEntry>, Error> {
        self.with_connection(|db, path| {
            let sql = format!(
                "SELECT {HISTORY_COLUMNS} FROM updates
                 WHERE name = ?1 AND outcome = 'updated' AND kind IN ('update', 'rollback')
                 ORDER BY id DESC LIMIT 1"
            );
            db.query_row(&sql, params![name], history_row)
                .optional()
                .map_err(sqlite(path))
        })
    }

    /// Remember that `digest` of `reference` was rolled back, so passes skip it.
    pub fn remember_bad_digest(
        &self,
        reference: &str,
        digest: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.with_connection(|db, path| {
            db.execute(
                "INSERT OR REPLACE INTO bad_digests (reference, digest, at, reason)
                 VALUES (?1, ?2, ?3, ?4)",
                params![reference, digest, stamp(now), reason],
            )
            .map(|_| ())
            .map_err(sqlite(path))
        })
    }

    /// Which of these (reference, digest) pairs were rolled back.
    pub fn bad_digests(
        &self,
        pairs: &[(ImageRef, Digest)],
    ) -> Result<BTreeMap<(ImageRef, Digest), BadDigest>, Error> {
        self.with_connection(|db, path| {
            let mut select = db
                .prepare_cached(
                    "SELECT at, reason FROM bad_digests WHERE reference = ?1 AND digest = ?2",
                )
                .map_err(sqlite(path))?;
            let mut found = BTreeMap::new();
            for (reference, digest) in pairs {
                let row: Option<(String, String)> = select
                    .query_row(params![reference.to_string(), digest.to_string()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()
                    .map_err(sqlite(path))?;
                if let Some((at, reason)) = row {
                    let at = DateTime::parse_from_rfc3339(&at)
                        .map_err(|_| Error::BadTime {
                            path: path.to_path_buf(),
                            value: at.clone(),
                        })?
                        .with_timezone(&Utc);
                    found.insert(
                        (reference.clone(), digest.clone()),
                        BadDigest { at, reason },
                    );
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, minute, 0).unwrap()
    }

    fn update(name: &str) -> NewUpdate {
        NewUpdate {
            kind: UpdateKind::Update,
            container_id: "aa".repeat(32),
            name: name.into(),
            reference: "127.0.0.1:5000/app:1".into(),
            old_image: format!("sha256:{}", "1".repeat(64)),
            old_digest: Some(format!("sha256:{}", "2".repeat(64))),
            new_image: format!("sha256:{}", "3".repeat(64)),
            new_digest: Some(format!("sha256:{}", "4".repeat(64))),
            was_running: true,
            restart_policy: Some(("always".into(), 0)),
        }
    }

    #[test]
    fn a_row_is_unfinished_at_its_last_step_until_finished_then_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("refit.db"));
        let id = store.begin(&update("web"), at(0)).unwrap();
        store.record_step(id, Step::Stopped, at(1)).unwrap();
        store.record_step(id, Step::Parked, at(1)).unwrap();
        store.set_new_container(id, "bb").unwrap();
        let open = Store::new(dir.path().join("refit.db"))
            .unfinished()
            .unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].step, Step::Parked);
        assert_eq!(open[0].new_container.as_deref(), Some("bb"));
        assert_eq!(open[0].update, update("web"));
        assert_eq!(open[0].owner_pid, std::process::id());
        assert!(store.history(10).unwrap().is_empty());

        store.finish(id, Step::Done, "updated", "", at(2)).unwrap();
        assert!(store.unfinished().unwrap().is_empty());
        let history = store.history(10).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].outcome, "updated");
        assert_eq!(history[0].finished_at, "2026-12-04T10:02:00.000Z");
        assert_eq!(store.last_applied("web").unwrap(), Some(history[0].clone()));
        assert_eq!(store.last_applied("other").unwrap(), None);
    }

    #[test]
    fn a_bad_digest_is_found_for_its_reference_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("refit.db"));
        let reference: ImageRef = "127.0.0.1:5000/app:1".parse().unwrap();
        let other: ImageRef = "127.0.0.1:5000/app:2".parse().unwrap();
        let digest: Digest = format!("sha256:{}", "4".repeat(64)).parse().unwrap();
        store
            .remember_bad_digest(&reference.to_string(), digest.as_str(), "exited", at(3))
            .unwrap();
        let found = store
            .bad_digests(&[
                (reference.clone(), digest.clone()),
                (other.clone(), digest.clone()),
            ])
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[&(reference, digest)],
            BadDigest {
                at: at(3),
                reason: "exited".into()
            }
        );
    }

    #[test]
    fn every_step_name_parses_back() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
    }
}
