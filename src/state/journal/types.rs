//! The journal's vocabulary: the kinds of row, the steps of an update, and the rows as the
//! executor writes them and as recovery and `refit history` read them.

use chrono::{DateTime, Utc};
use serde::Serialize;

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

    pub(super) fn parse(value: &str) -> UpdateKind {
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
