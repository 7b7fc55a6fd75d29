//! Per-container policy: the configuration's defaults overridden by the container's `refit.*`
//! labels, with Watchtower's labels honoured where no `refit.*` label is set. Pure: a
//! container's facts and the defaults in, a verdict out.

pub mod labels;

use crate::model::Container;

/// Which containers a pass manages: `OptIn` (only `refit.enable=true`) or `All` (all but
/// `refit.enable=false`).
pub use crate::config::Selection;

/// The configuration defaults policy starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Defaults {
    pub selection: Selection,
    pub monitor_only: bool,
    /// An instance with a scope manages only containers of that scope; one without manages
    /// only containers without a scope.
    pub scope: Option<String>,
}

/// What policy lets refit do with one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Report an available update instead of applying it.
    pub monitor_only: bool,
}

/// The verdict for one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Managed(Policy),
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
    let enable = flag(container, labels::ENABLE, labels::WATCHTOWER_ENABLE)?;
    let not_selected = |why: &str| Ok(Verdict::NotSelected(why.to_string()));
    match (defaults.selection, enable) {
        (Selection::OptIn, None) => {
            return not_selected("not selected: no refit.enable=true label");
        }
        (_, Some(false)) => return not_selected("not selected: labelled refit.enable=false"),
        _ => {}
    }
    let scope = label(container, labels::SCOPE, labels::WATCHTOWER_SCOPE).filter(|s| !s.is_empty());
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
    let monitor_only = flag(
        container,
        labels::MONITOR_ONLY,
        labels::WATCHTOWER_MONITOR_ONLY,
    )?
    .unwrap_or(defaults.monitor_only);
    Ok(Verdict::Managed(Policy { monitor_only }))
}

/// The `refit.*` label's value, else the Watchtower label's.
fn label<'a>(container: &'a Container, key: &str, watchtower: &str) -> Option<&'a str> {
    container.label(key).or_else(|| container.label(watchtower))
}

fn flag(container: &Container, key: &str, watchtower: &str) -> Result<Option<bool>, String> {
    let (used, value) = match (container.label(key), container.label(watchtower)) {
        (Some(v), _) => (key, v),
        (None, Some(v)) => (watchtower, v),
        (None, None) => return Ok(None),
    };
    parse_bool(value).map(Some).ok_or_else(|| {
        format!("container {}: label {used}={value:?} is not a boolean (true or false); container skipped", container.name)
    })
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
mod tests {
    use super::*;
    use crate::model::Container;

    fn defaults(selection: Selection) -> Defaults {
        Defaults {
            selection,
            monitor_only: false,
            scope: None,
        }
    }

    fn verdict(container: Container, defaults: &Defaults) -> String {
        match evaluate(&container, defaults) {
            Verdict::Managed(p) => format!("managed monitor_only={}", p.monitor_only),
            Verdict::NotSelected(why) => why,
            Verdict::BadLabel(why) => format!("bad label: {why}"),
        }
    }

    #[test]
    fn selection_table() {
        let opt_in = defaults(Selection::OptIn);
        let all = defaults(Selection::All);
        let cases = [
            (
                Container::test("a"),
                &opt_in,
                "not selected: no refit.enable=true label",
            ),
            (
                Container::test("a").with_label(labels::ENABLE, "true"),
                &opt_in,
                "managed monitor_only=false",
            ),
            (
                Container::test("a").with_label(labels::WATCHTOWER_ENABLE, "true"),
                &opt_in,
                "managed monitor_only=false",
            ),
            (
                Container::test("a")
                    .with_label(labels::ENABLE, "false")
                    .with_label(labels::WATCHTOWER_ENABLE, "true"),
                &opt_in,
                "not selected: labelled refit.enable=false",
            ),
            (Container::test("a"), &all, "managed monitor_only=false"),
            (
                Container::test("a").with_label(labels::ENABLE, "false"),
                &all,
                "not selected: labelled refit.enable=false",
            ),
            (
                Container::test("a").with_label(labels::WATCHTOWER_ENABLE, "0"),
                &all,
                "not selected: labelled refit.enable=false",
            ),
            (
                Container::test("a").with_label(labels::MONITOR_ONLY, "true"),
                &all,
                "managed monitor_only=true",
            ),
            (
                Container::test("a").with_label(labels::WATCHTOWER_MONITOR_ONLY, "True"),
                &all,
                "managed monitor_only=true",
            ),
        ];
        for (container, defaults, expected) in cases {
            let name = format!("{:?}", container.labels);
            assert_eq!(verdict(container, defaults), expected, "labels {name}");
        }
    }

    #[test]
    fn a_bad_label_names_container_label_and_value() {
        let got = verdict(
            Container::test("web").with_label(labels::ENABLE, "yes please"),
            &defaults(Selection::All),
        );
        assert_eq!(
            got,
            "bad label: container web: label refit.enable=\"yes please\" is not a boolean (true or false); container skipped"
        );
    }

    #[test]
    fn scopes_stay_apart() {
        let scoped = Defaults {
            scope: Some("prod".into()),
            ..defaults(Selection::All)
        };
        let unscoped = defaults(Selection::All);
        let prod = || Container::test("a").with_label(labels::SCOPE, "prod");
        assert_eq!(verdict(prod(), &scoped), "managed monitor_only=false");
        assert_eq!(
            verdict(
                Container::test("a").with_label(labels::WATCHTOWER_SCOPE, "prod"),
                &scoped
            ),
            "managed monitor_only=false"
        );
        assert_eq!(
            verdict(
                Container::test("a").with_label(labels::SCOPE, "dev"),
                &scoped
            ),
            "not selected: scope \"dev\" is not this instance's (\"prod\")"
        );
        assert_eq!(
            verdict(Container::test("a"), &scoped),
            "not selected: no refit.scope label, this instance manages scope \"prod\""
        );
        assert_eq!(
            verdict(prod(), &unscoped),
            "not selected: scope \"prod\" belongs to another instance"
        );
    }

    #[test]
    fn monitor_only_default_applies_without_label() {
        let d = Defaults {
            monitor_only: true,
            ..defaults(Selection::All)
        };
        assert_eq!(
            verdict(Container::test("a"), &d),
            "managed monitor_only=true"
        );
        assert_eq!(
            verdict(
                Container::test("a").with_label(labels::MONITOR_ONLY, "false"),
                &d
            ),
            "managed monitor_only=false"
        );
    }
}
