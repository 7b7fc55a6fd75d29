//! Reading a container's labels into its `Policy`: each `refit.*` label, else its Watchtower
//! equivalent, else the configuration's default. Every error names the container, the label
//! and the value, and ends the same way, so an operator can grep for skipped containers.

use std::time::Duration;

use super::{Defaults, Hooks, Policy, Strategy, TagPattern, labels, parse_bool};
use crate::model::Container;

pub(super) struct Labels<'a>(pub &'a Container);

impl Labels<'_> {
    /// The `refit.*` label's value, else the Watchtower label's, with the key that gave it.
    fn get(&self, key: &'static str, watchtower: Option<&'static str>) -> Option<(&str, &str)> {
        let container = self.0;
        container.label(key).map(|v| (key, v)).or_else(|| {
            let watchtower = watchtower?;
            container.label(watchtower).map(|v| (watchtower, v))
        })
    }

    pub fn text(&self, key: &'static str, watchtower: Option<&'static str>) -> Option<&str> {
        self.get(key, watchtower).map(|(_, v)| v)
    }

    fn bad(&self, key: &str, value: &str, expected: &str) -> String {
        format!(
            "container {}: label {key}={value:?} {expected}; container skipped",
            self.0.name
        )
    }

    pub fn flag(
        &self,
        key: &'static str,
        watchtower: Option<&'static str>,
    ) -> Result<Option<bool>, String> {
        let Some((used, value)) = self.get(key, watchtower) else {
            return Ok(None);
        };
        parse_bool(value)
            .map(Some)
            .ok_or_else(|| self.bad(used, value, "is not a boolean (true or false)"))
    }

    fn duration(
        &self,
        key: &'static str,
        watchtower: Option<&'static str>,
    ) -> Result<Option<Duration>, String> {
        let Some((used, value)) = self.get(key, watchtower) else {
            return Ok(None);
        };
        parse_duration(value)
            .map(Some)
            .ok_or_else(|| self.bad(used, value, "is not a duration (such as 30s, 5m, 2h)"))
    }

    /// A comma-separated list; empty entries are dropped.
    fn list(&self, key: &'static str, watchtower: Option<&'static str>) -> Vec<String> {
        self.text(key, watchtower)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn copy_list(&self) -> Vec<String> {
        self.list(labels::COPY, Some(labels::WATCHTOWER_COPY))
    }

    fn hook(&self, key: &'static str, watchtower: &'static str) -> Option<String> {
        self.text(key, Some(watchtower))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }
}

/// A bare number is seconds, as Watchtower's durations; else humantime (`90s`, `5m`, `1h30m`).
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse().ok().map(Duration::from_secs);
    }
    humantime::parse_duration(value).ok()
}

pub(super) fn policy(labels: &Labels, defaults: &Defaults) -> Result<Policy, String> {
    let monitor_only = labels
        .flag(labels::MONITOR_ONLY, Some(labels::WATCHTOWER_MONITOR_ONLY))?
        .unwrap_or(defaults.monitor_only);
    let strategy = match labels.text(labels::UPDATE, None) {
        None => defaults.strategy,
        Some(value) => Strategy::parse(value).ok_or_else(|| {
            let all: Vec<_> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
            labels.bad(
                labels::UPDATE,
                value,
                &format!("is not one of {}", all.join(", ")),
            )
        })?,
    };
    let pull = match labels.flag(labels::PULL, None)? {
        Some(pull) => pull,
        None => !labels
            .flag(labels::WATCHTOWER_NO_PULL, None)?
            .unwrap_or(false),
    };
    let tags = match labels.text(labels::TAGS, None) {
        None => None,
        Some(pattern) => {
            Some(TagPattern::new(pattern).map_err(|e| labels.bad(labels::TAGS, pattern, &e))?)
        }
    };
    let stop_signal = match labels.text(labels::STOP_SIGNAL, Some(labels::WATCHTOWER_STOP_SIGNAL)) {
        None => None,
        Some(value) => Some(signal(value).ok_or_else(|| {
            labels.bad(
                labels::STOP_SIGNAL,
                value,
                "is not a signal name (such as SIGINT) or number",
            )
        })?),
    };
    let copy = labels.copy_list();
    if let Some(relative) = copy.iter().find(|p| !p.starts_with('/')) {
        let value = labels
            .text(labels::COPY, Some(labels::WATCHTOWER_COPY))
            .unwrap_or_default();
        return Err(labels.bad(
            labels::COPY,
            value,
            &format!("lists {relative:?}, which is not an absolute path"),
        ));
    }
    let hook_timeout = match labels.duration(labels::HOOK_TIMEOUT, None)? {
        Some(timeout) => Some(timeout),
        // Watchtower's is a number of minutes.
        None => match labels.text(labels::WATCHTOWER_PRE_UPDATE_TIMEOUT, None) {
            None => None,
            Some(value) => Some(
                value
                    .trim()
                    .parse::<u64>()
                    .map(|m| Duration::from_secs(m * 60))
                    .map_err(|_| {
                        labels.bad(
                            labels::WATCHTOWER_PRE_UPDATE_TIMEOUT,
                            value,
                            "is not a number of minutes",
                        )
                    })?,
            ),
        },
    };
    Ok(Policy {
        monitor_only,
        strategy,
        pull,
        window: labels
            .text(labels::WINDOW, None)
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
        tags,
        min_age: labels
            .duration(labels::MIN_AGE, Some(labels::WATCHTOWER_COOLDOWN))?
            .unwrap_or(defaults.min_age),
        stop_signal,
        stop_timeout: labels.duration(labels::STOP_TIMEOUT, None)?,
        health_timeout: labels.duration(labels::HEALTH_TIMEOUT, None)?,
        rollback: labels.flag(labels::ROLLBACK, None)?,
        depends_on: labels.list(labels::DEPENDS_ON, Some(labels::WATCHTOWER_DEPENDS_ON)),
        copy,
        hooks: Hooks {
            pre_check: labels.hook(labels::HOOK_PRE_CHECK, labels::WATCHTOWER_PRE_CHECK),
            pre_update: labels.hook(labels::HOOK_PRE_UPDATE, labels::WATCHTOWER_PRE_UPDATE),
            post_update: labels.hook(labels::HOOK_POST_UPDATE, labels::WATCHTOWER_POST_UPDATE),
            post_check: labels.hook(labels::HOOK_POST_CHECK, labels::WATCHTOWER_POST_CHECK),
            timeout: hook_timeout,
        },
    })
}

/// `SIGINT`, `INT`, `sigint` or a number, normalised to `SIGINT` / the number.
fn signal(value: &str) -> Option<String> {
    const NAMES: &[&str] = &[
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    let value = value.trim();
    if let Ok(number) = value.parse::<u8>() {
        return (1..=64).contains(&number).then(|| number.to_string());
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.contains(&name).then(|| format!("SIG{name}"))
}
