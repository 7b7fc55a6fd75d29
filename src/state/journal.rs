//! The update journal: one row per container update (or repoint, or manual rollback), whose
//! `step` is written *before* the step is taken, so that a refit killed at any point finds
//! the unfinished row on its next start and completes or undoes it (`execute::recover`).
//! Finished rows are the history (`refit history`). Digests rolled back are remembered here
//! too, so that the next pass does not try them again.
//!
//! Rows are written from the executor inline (a few rows per update, under the store's mutex).

use std::collections::BTreeMap;
use std::path::Path;

mod types;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, Row, params};

pub use types::{BadDigest, HistoryEntry, NewUpdate, Step, Unfinished, UpdateKind};

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
mod tests;
