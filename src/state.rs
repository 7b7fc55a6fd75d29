//! refit's state database: an embedded SQLite file (`[state] path`) that outlives the process.
//! It holds what must survive a restart: when each (reference, digest) was first seen, so that
//! `refit.min-age` is not reset by a restart, and the update journal (`journal.rs`: every step
//! of an update before it is taken, the history, the digests that were rolled back). The
//! schema is versioned (`PRAGMA user_version`) and migrated forward on open.
//!
//! The file is opened on first use, not at start: an instance that never needs state (no
//! `min-age`) never creates `/var/lib/refit`. Queries are a few rows each, so they run inline
//! under a mutex rather than on a blocking thread pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::model::{Digest, ImageRef};

mod journal;

pub use journal::{BadDigest, HistoryEntry, NewUpdate, Step, Unfinished, UpdateKind};

/// Each entry moves the schema from version `i` to `i + 1`; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: when refit first saw a digest for a reference.
    "CREATE TABLE first_seen (
        reference TEXT NOT NULL,
        digest    TEXT NOT NULL,
        seen_at   TEXT NOT NULL,
        PRIMARY KEY (reference, digest)
    );",
    // 2 (issue 7, see ledger.rs): available updates announced by notifications, and a short
    // history of finished passes for `GET /v1/history`.
    "CREATE TABLE announced (
        container    TEXT NOT NULL,
        digest       TEXT NOT NULL,
        announced_at TEXT NOT NULL,
        PRIMARY KEY (container, digest)
    );
    CREATE TABLE pass_history (
        id          TEXT PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        mode        TEXT NOT NULL,
        trigger     TEXT NOT NULL,
        summary     TEXT NOT NULL,
        containers  TEXT NOT NULL
    );
    CREATE INDEX pass_history_by_start ON pass_history (started_at);",
    // 3: the update journal (see journal.rs), its step log, and digests rolled back.
    journal::MIGRATION,
];

/// How long a query waits for another process (a second refit) holding the write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the state directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "state database {} has schema version {found}, newer than this refit knows ({known}); \
         upgrade refit or point [state] path elsewhere",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("state database {} holds an unreadable time {value:?}", path.display())]
    BadTime { path: PathBuf, value: String },
}

/// The state database at a path, opened on first use and kept open.
pub struct Store {
    path: PathBuf,
    connection: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// A store at `path`; nothing is opened or created yet.
    pub fn new(path: impl Into<PathBuf>) -> Store {
        Store {
            path: path.into(),
            connection: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When each pair was first seen. Pairs never seen before are recorded as seen `now`.
    pub fn first_seen(
        &self,
        pairs: &[(ImageRef, Digest)],
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<(ImageRef, Digest), DateTime<Utc>>, Error> {
        self.with_connection(|db, path| {
            let sqlite = |source| Error::Sqlite {
                path: path.to_path_buf(),
                source,
            };
            let tx = db.transaction().map_err(sqlite)?;
            let mut seen = BTreeMap::new();
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO first_seen (reference, digest, seen_at)
                         VALUES (?1, ?2, ?3)",
                    )
                    .map_err(sqlite)?;
                let mut select = tx
                    .prepare_cached(
                        "SELECT seen_at FROM first_seen WHERE reference = ?1 AND digest = ?2",
                    )
                    .map_err(sqlite)?;
                let stamp = now.to_rfc3339_opts(SecondsFormat::Millis, true);
                for (reference, digest) in pairs {
                    let (reference_text, digest_text) = (reference.to_string(), digest.to_string());
                    insert
                        .execute(params![reference_text, digest_text, stamp])
                        .map_err(sqlite)?;
                    let value: Option<String> = select
                        .query_row(params![reference_text, digest_text], |row| row.get(0))
                        .optional()
                        .map_err(sqlite)?;
                    let value = value.unwrap_or_else(|| stamp.clone());
                    let at = DateTime::parse_from_rfc3339(&value)
                        .map_err(|_| Error::BadTime {
                            path: path.to_path_buf(),
                            value: value.clone(),
                        })?
                        .with_timezone(&Utc);
                    seen.insert((reference.clone(), digest.clone()), at);
                }
            }
            tx.commit().map_err(sqlite)?;
            Ok(seen)
        })
    }

    /// Runs `work` on the open database (opening it first); other modules' queries
    /// (`ledger`) go through here so that they share the connection and its migrations.
    pub(crate) fn with_connection<T>(
        &self,
        work: impl FnOnce(&mut Connection, &Path) -> Result<T, Error>,
    ) -> Result<T, Error> {
        // A panic while the lock was held leaves no half-written state: SQLite rolled it back.
        let mut guard = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        let db = match &mut *guard {
            Some(db) => db,
            slot @ None => slot.insert(open(&self.path)?),
        };
        work(db, &self.path)
    }
}

fn open(path: &Path) -> Result<Connection, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let sqlite = |source| Error::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut db = Connection::open(path).map_err(sqlite)?;
    db.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    // WAL: a reader (`refit history` beside a running daemon) never blocks the writer.
    db.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    migrate(&mut db, path)?;
    Ok(db)
}

fn migrate(db: &mut Connection, path: &Path) -> Result<(), Error> {
    let sqlite = |source| Error::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let tx = db.transaction().map_err(sqlite)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite)?;
    // A negative or huge version is not one of ours either.
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(Error::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    for migration in &MIGRATIONS[version..] {
        tx.execute_batch(migration).map_err(sqlite)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
        .map_err(sqlite)?;
    tx.commit().map_err(sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pair(reference: &str, hex: char) -> (ImageRef, Digest) {
        let reference: ImageRef = reference.parse().expect("reference");
        let digest: Digest = format!("sha256:{}", hex.to_string().repeat(64))
            .parse()
            .expect("digest");
        (reference, digest)
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_first_sighting_is_kept_across_calls_and_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/refit.db");
        let a = pair("nginx:1.27", 'a');
        let b = pair("nginx:1.27", 'b');
        let store = Store::new(&path);
        let first = store.first_seen(std::slice::from_ref(&a), at(1)).unwrap();
        assert_eq!(first[&a], at(1));
        let second = store.first_seen(&[a.clone(), b.clone()], at(2)).unwrap();
        assert_eq!(second[&a], at(1), "a later sighting does not reset it");
        assert_eq!(second[&b], at(2), "a new digest starts its own clock");
        drop(store);
        let reopened = Store::new(&path)
            .first_seen(std::slice::from_ref(&a), at(3))
            .unwrap();
        assert_eq!(reopened[&a], at(1), "a restart does not reset it");
    }

    #[test]
    fn the_same_digest_under_another_reference_is_another_sighting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("refit.db"));
        let one = pair("nginx:1.27", 'a');
        let other = pair("nginx:latest", 'a');
        store.first_seen(std::slice::from_ref(&one), at(1)).unwrap();
        let seen = store
            .first_seen(std::slice::from_ref(&other), at(2))
            .unwrap();
        assert_eq!(seen[&other], at(2));
    }

    #[test]
    fn a_database_from_a_newer_refit_is_refused_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("refit.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let err = Store::new(&path).first_seen(&[], at(1)).unwrap_err();
        assert!(matches!(err, Error::TooNew { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    #[test]
    fn an_unwritable_location_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let err = Store::new(file.join("refit.db"))
            .first_seen(&[], at(1))
            .unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }
}
