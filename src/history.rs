//! `refit history` and `refit rollback`: the journal's finished updates as a table or JSON,
//! and a container taken back to the image its last update replaced.

use crate::engine::{self, Engine};
use crate::execute::{Executor, Outcome};
use crate::observe;
use crate::pass::{self, PassOptions};
use crate::plan::order::Graph;
use crate::registry::Registry;
use crate::state::{self, HistoryEntry};

/// How many finished rows `refit history` shows, newest first.
pub const HISTORY_LIMIT: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    State(#[from] state::Error),
    #[error("no container named {0}")]
    UnknownContainer(String),
    #[error("the journal holds no update of {0} to roll back")]
    NothingToRollBack(String),
}

/// Roll container `name` back to the image its last journaled update replaced. Unfinished
/// updates are recovered first, as before a pass.
pub async fn rollback(
    engine: &dyn Engine,
    registry: &dyn Registry,
    options: &PassOptions,
    name: &str,
) -> Result<(HistoryEntry, Outcome), RollbackError> {
    pass::recover_interrupted(engine, &options.state).await;
    let observed = observe::observe(engine, true).await?;
    let snapshot = &observed.snapshot;
    let container = snapshot
        .container_named(name)
        .ok_or_else(|| RollbackError::UnknownContainer(name.to_string()))?;
    let last = options
        .state
        .last_applied(name)?
        .ok_or_else(|| RollbackError::NothingToRollBack(name.to_string()))?;
    let executor = Executor::new(
        engine,
        registry,
        snapshot,
        options.settings.clone(),
        &options.state,
    );
    let outcome = executor
        .rollback(&Graph::new(snapshot), container, &last)
        .await;
    Ok((last, outcome))
}

/// `sha256:` and 12 hex digits of the digest when known, else of the image id.
fn short(digest: Option<&str>, image: &str) -> String {
    let full = digest.unwrap_or(image);
    full.chars().take(19).collect()
}

/// The table `refit history` prints, newest first.
pub fn to_table(entries: &[HistoryEntry]) -> String {
    let header = ["TIME", "CONTAINER", "FROM", "TO", "OUTCOME", "REASON"];
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            let outcome = match e.kind {
                "update" => e.outcome.clone(),
                kind => format!("{} ({kind})", e.outcome),
            };
            [
                e.finished_at.chars().take(19).collect::<String>() + "Z",
                e.container.clone(),
                short(e.from_digest.as_deref(), &e.from_image),
                short(e.to_digest.as_deref(), &e.to_image),
                outcome,
                e.reason.clone(),
            ]
        })
        .collect();
    crate::report::render_table(&header, &rows)
}

pub fn to_json(entries: &[HistoryEntry]) -> String {
    // Plain owned data with string keys always serialises.
    serde_json::to_string_pretty(entries).expect("history serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_digests_and_kinds() {
        let entry = HistoryEntry {
            id: 1,
            kind: "rollback",
            container: "web".into(),
            container_id: "aa".repeat(32),
            reference: "127.0.0.1:5000/app:1".into(),
            from_image: format!("sha256:{}", "1".repeat(64)),
            from_digest: None,
            to_image: format!("sha256:{}", "3".repeat(64)),
            to_digest: Some(format!("sha256:{}", "4".repeat(64))),
            started_at: "2026-12-04T10:00:00.000Z".into(),
            finished_at: "2026-12-04T10:01:00.000Z".into(),
            outcome: "updated".into(),
            reason: String::new(),
        };
        let table = to_table(&[entry]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("TIME"), "{table}");
        assert!(lines[1].starts_with("2026-12-04T10:01:00Z  web"), "{table}");
        assert!(
            lines[1].contains("sha256:111111111111  sha256:444444444444"),
            "{table}"
        );
        assert!(lines[1].ends_with("updated (rollback)"), "{table}");
    }
}
