//! Per-container policy: the configuration's defaults overridden by the container's `refit.*`
//! labels, with Watchtower's labels honoured where no `refit.*` label is set. Pure: a
//! container's facts and the defaults in, a verdict out. A label that does not parse skips
//! that container only, with a message naming the container, the label and the value.

pub mod labels;
mod read;
mod tags;

use std::time::Duration;

use crate::model::Container;
use read::Labels;
pub use read::parse_duration;
pub use tags::TagPattern;

/// Which containers a pass manages: `OptIn` (only `refit.enable=true`) or `All` (all but
/// `refit.enable=false`).
pub use crate::config::Selection;

/// How a container follows its image (`refit.update`, `policy.update`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Same tag, new digest.
    #[default]
    Digest,
    /// The highest newer tag with the same major.minor (then a new digest of the same tag).
    SemverPatch,
    /// The highest newer tag with the same major.
    SemverMinor,
    /// The highest newer tag.
    SemverMajor,
    /// Never updated (still checked and reported).
    None,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::Digest,
        Strategy::SemverPatch,
        Strategy::SemverMinor,
        Strategy::SemverMajor,
        Strategy::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Digest => "digest",
            Strategy::SemverPatch => "semver-patch",
            Strategy::SemverMinor => "semver-minor",
            Strategy::SemverMajor => "semver-major",
            Strategy::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Strategy> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.as_str() == value.trim())
    }

    pub fn is_semver(self) -> bool {
        matches!(
            self,
            Strategy::SemverPatch | Strategy::SemverMinor | Strategy::SemverMajor
        )
    }
}

/// The configuration defaults policy starts from.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Defaults {
    pub selection: Selection,
    pub monitor_only: bool,
    /// An instance with a scope manages only containers of that scope; one without manages
    /// only containers without a scope.
    pub scope: Option<String>,
    pub strategy: Strategy,
    /// A new digest is applied only once refit has known it this long.
    pub min_age: Duration,
}

/// Commands run inside the container around a check and an update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hooks {
    pub pre_check: Option<String>,
    pub pre_update: Option<String>,
    pub post_update: Option<String>,
    pub post_check: Option<String>,
    /// How long a hook may run; `None`: the built-in default.
    pub timeout: Option<Duration>,
}

/// What policy lets refit do with one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Report an available update instead of applying it.
    pub monitor_only: bool,
    pub strategy: Strategy,
    /// `false`: only act on an image already updated locally (no registry question).
    pub pull: bool,
    /// `refit.window`: a window name, or `any`; `None`: the default window, if one is set.
    pub window: Option<String>,
    /// `refit.tags`: the regex candidate tags must match (semver strategies), compiled.
    pub tags: Option<TagPattern>,
    pub min_age: Duration,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<Duration>,
    pub health_timeout: Option<Duration>,
    pub rollback: Option<bool>,
    /// Container names this one depends on (`refit.depends-on`).
    pub depends_on: Vec<String>,
    /// Absolute paths copied from the old container into the new one.
    pub copy: Vec<String>,
    pub hooks: Hooks,
}

/// The verdict for one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Managed(Box<Policy>),
    /// Not this instance's to manage; the reason says why.
    NotSelected(String),
    /// A label does not parse: the container is skipped and the message names it.
    BadLabel(String),
}

pub fn evaluate(container: &Container, defaults: &Defaults) -> Verdict {
    match try_evaluate(container, defaults) {
        Ok(verdict) => verdict,
        Err(message) => Verdict::BadLabel(message),
    }
}

fn try_evaluate(container: &Container, defaults: &Defaults) -> Result<Verdict, String> {
    let labels = Labels(container);
    let enable = labels.flag(labels::ENABLE, Some(labels::WATCHTOWER_ENABLE))?;
    let not_selected = |why: &str| Ok(Verdict::NotSelected(why.to_string()));
    match (defaults.selection, enable) {
        (Selection::OptIn, None) => {
            return not_selected("not selected: no refit.enable=true label");
        }
        (_, Some(false)) => return not_selected("not selected: labelled refit.enable=false"),
        _ => {}
    }
    let scope = labels
        .text(labels::SCOPE, Some(labels::WATCHTOWER_SCOPE))
        .filter(|s| !s.is_empty());
    match (&defaults.scope, scope) {
        (Some(mine), Some(theirs)) if mine != theirs => {
            return not_selected(&format!(
                "not selected: scope \"{theirs}\" is not this instance's (\"{mine}\")"
            ));
        }
        (Some(mine), None) => {
            return not_selected(&format!(
                "not selected: no refit.scope label, this instance manages scope \"{mine}\""
            ));
        }
        (None, Some(theirs)) => {
            return not_selected(&format!(
                "not selected: scope \"{theirs}\" belongs to another instance"
            ));
        }
        _ => {}
    }
    Ok(Verdict::Managed(Box::new(read::policy(&labels, defaults)?)))
}

/// `refit.copy` (else Watchtower's `copy-file`) as absolute paths, for transactions that have
/// no evaluated policy at hand (`refit rollback`, a re-pointed namespace sharer): the files
/// must follow the container whichever way it is recreated. Relative entries, which
/// `evaluate` refuses, are left out.
pub fn copy_paths(container: &Container) -> Vec<String> {
    read::Labels(container)
        .copy_list()
        .into_iter()
        .filter(|p| p.starts_with('/'))
        .collect()
}

/// Booleans as Watchtower (Go's strconv.ParseBool) accepts them.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
