//! The pass report: per container what was decided and what came of it. Logs, the CLI's
//! table and `--json`, notifications, metrics and the API all read this one
//! value. Its JSON form is an interface (see docs/report.md): every key is always present.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use crate::model::Digest;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Check,
    Update,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Check => "check",
            Mode::Update => "update",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    UpToDate,
    Updated,
    RolledBack,
    Failed,
    Skipped,
    Available,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Provenance {
    pub version: Option<String>,
    pub revision: Option<String>,
    pub source: Option<String>,
}

impl Provenance {
    /// From an image's `org.opencontainers.image.*` labels; `None` when it has none of them.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Provenance> {
        let get = |key: &str| {
            labels
                .get(&format!("org.opencontainers.image.{key}"))
                .cloned()
        };
        let provenance = Provenance {
            version: get("version"),
            revision: get("revision"),
            source: get("source"),
        };
        (provenance != Provenance::default()).then_some(provenance)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassInfo {
    pub id: String,
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub finished_at: DateTime<Utc>,
    pub mode: Mode,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContainerReport {
    pub name: String,
    pub id: String,
    /// Which engine the container runs on (`local` until several hosts are supported).
    pub host: String,
    /// The normalised reference the container runs (or its `Config.Image` when that is no
    /// reference).
    pub image: String,
    /// The reference an update moves it to; null when there is none to follow.
    pub target_image: Option<String>,
    pub current_digest: Option<Digest>,
    pub available_digest: Option<Digest>,
    /// `up-to-date`, `update`, `available`, `skip` or `error`.
    pub decision: &'static str,
    /// Null in a check.
    pub outcome: Option<OutcomeKind>,
    pub reason: String,
    pub provenance: Option<Provenance>,
    /// Seconds the update of this container took (stop to old container removed); null when
    /// nothing was done.
    pub duration_seconds: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub pass: PassInfo,
    pub containers: Vec<ContainerReport>,
}

fn rfc3339<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl Report {
    /// The exit status the CLI reports: 1 when a container failed or was rolled back (in an
    /// update) or could not be checked (in a check).
    pub fn has_failures(&self) -> bool {
        self.containers.iter().any(|c| match self.pass.mode {
            Mode::Check => c.decision == "error",
            Mode::Update => matches!(
                c.outcome,
                Some(OutcomeKind::Failed | OutcomeKind::RolledBack)
            ),
        })
    }

    pub fn to_json(&self) -> String {
        // Serialising plain owned data with string keys cannot fail.
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// The table `refit check` and `refit update` print.
    pub fn to_table(&self) -> String {
        let short = |d: &Option<Digest>| {
            d.as_ref()
                .map_or("-".to_string(), |d| d.short().to_string())
        };
        let rows: Vec<[String; 5]> = self
            .containers
            .iter()
            .map(|c| {
                let status = match (c.outcome, c.reason.is_empty()) {
                    (None, true) => c.decision.to_string(),
                    (None, false) => format!("{}: {}", c.decision, c.reason),
                    (Some(o), true) => outcome_word(o).to_string(),
                    (Some(o), false) => format!("{}: {}", outcome_word(o), c.reason),
                };
                [
                    c.name.clone(),
                    c.image.clone(),
                    short(&c.current_digest),
                    short(&c.available_digest),
                    status,
                ]
            })
            .collect();
        let header = [
            "NAME",
            "IMAGE",
            "CURRENT",
            "AVAILABLE",
            if self.pass.mode == Mode::Check {
                "DECISION"
            } else {
                "OUTCOME"
            },
        ];
        render_table(&header, &rows)
    }
}

pub fn outcome_word(outcome: OutcomeKind) -> &'static str {
    match outcome {
        OutcomeKind::UpToDate => "up-to-date",
        OutcomeKind::Updated => "updated",
        OutcomeKind::RolledBack => "rolled-back",
        OutcomeKind::Failed => "failed",
        OutcomeKind::Skipped => "skipped",
        OutcomeKind::Available => "available",
    }
}

/// Columns separated by two spaces, each but the last padded to its widest cell; the header
/// first. Shared by `refit check`/`update` and `refit history`.
pub fn render_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header = header.map(String::from);
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
