//! The configuration file as written: serde structs mirroring the TOML key for key, every key
//! optional. Defaults and cross-key rules are applied later, in the conversion to `Config`;
//! values that can be checked alone are checked here, by the value types, so that a file
//! error carries the position of the value.
//!
//! A value that must be checked together with another one is kept `Spanned`, so the
//! conversion can still point at it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::service::{ListenValue, NotifyUrlValue, TokenValue};
use super::time::{CronValue, DayValue, IntervalValue, TimeValue, TimezoneValue};
use super::value::{DockerHost, DurationValue, PasswordMarker, RegistryHost, StrategyValue};
use super::{LogFormat, LogLevel, Selection};

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "a table of refit settings")]
pub(super) struct RawConfig {
    pub docker: RawDocker,
    pub schedule: RawSchedule,
    pub policy: RawPolicy,
    pub health: RawHealth,
    /// `[[window]]` entries; none printed as none, since TOML has no empty array of tables.
    #[serde(rename = "window", skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<RawWindow>,
    pub registries: BTreeMap<RegistryHost, RawRegistry>,
    pub trust: RawTrust,
    pub notify: RawNotify,
    pub api: RawApi,
    pub state: RawState,
    pub log: RawLog,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [docker] table")]
pub(super) struct RawDocker {
    pub host: Option<DockerHost>,
    pub tls_ca: Option<Spanned<PathBuf>>,
    pub tls_cert: Option<Spanned<PathBuf>>,
    pub tls_key: Option<Spanned<PathBuf>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [schedule] table")]
pub(super) struct RawSchedule {
    pub cron: Option<CronValue>,
    pub interval: Option<IntervalValue>,
    pub timezone: Option<TimezoneValue>,
    pub update_on_start: Option<bool>,
    pub run_once: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [policy] table")]
pub(super) struct RawPolicy {
    pub selection: Option<Selection>,
    pub update: Option<StrategyValue>,
    pub monitor_only: Option<bool>,
    pub include_stopped: Option<bool>,
    pub cleanup: Option<bool>,
    pub scope: Option<String>,
    pub min_age: Option<DurationValue>,
    pub stop_timeout: Option<DurationValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [health] table")]
pub(super) struct RawHealth {
    pub wait: Option<DurationValue>,
    pub timeout: Option<DurationValue>,
    pub rollback: Option<bool>,
}

/// A `[[window]]`. Name, start and end are required; the values checked together with other
/// windows (a duplicate name, a second default) or alone but after parsing (no days) keep
/// their span.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a [[window]] table")]
pub(super) struct RawWindow {
    pub name: Spanned<String>,
    #[serde(default)]
    pub days: Option<Spanned<Vec<DayValue>>>,
    pub start: TimeValue,
    pub end: TimeValue,
    #[serde(default)]
    pub timezone: Option<TimezoneValue>,
    #[serde(default)]
    pub default: Option<Spanned<bool>>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(
    default,
    deny_unknown_fields,
    expecting = "a [registries.\"host\"] table"
)]
pub(super) struct RawRegistry {
    pub username: Option<Spanned<String>>,
    /// Only ever `"***"` or `""`: the printed form of a password read from `password_file`.
    pub password: Option<Spanned<PasswordMarker>>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub ca_file: Option<PathBuf>,
    pub insecure: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [trust] table")]
pub(super) struct RawTrust {
    pub allowed_registries: Option<Vec<RegistryHost>>,
    /// `[[trust.signatures]]` entries; last, since TOML prints arrays of tables after values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<RawSignatureRule>,
}

/// A `[[trust.signatures]]` rule. Both keys are required; each keeps its span, since the
/// pattern and the key file are checked after parsing.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, expecting = "a [[trust.signatures]] table")]
pub(super) struct RawSignatureRule {
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    pub public_key: Spanned<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [notify] table")]
pub(super) struct RawNotify {
    pub urls: Option<Vec<NotifyUrlValue>>,
}

/// `[api]`; `listen` and the token keep their span for the rules that tie them together.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [api] table")]
pub(super) struct RawApi {
    pub listen: Option<Spanned<ListenValue>>,
    pub token: Option<Spanned<TokenValue>>,
    pub token_file: Option<Spanned<PathBuf>>,
    pub metrics_public: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [state] table")]
pub(super) struct RawState {
    pub path: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields, expecting = "the [log] table")]
pub(super) struct RawLog {
    pub format: Option<LogFormat>,
    pub level: Option<LogLevel>,
}

impl RawConfig {
    /// Makes the file's relative paths relative to the file's own folder rather than to
    /// wherever refit happens to be started (a systemd unit starts it in `/`).
    pub fn resolve_paths(&mut self, base: &Path) {
        let docker = &mut self.docker;
        for path in [
            &mut docker.tls_ca,
            &mut docker.tls_cert,
            &mut docker.tls_key,
        ] {
            resolve_spanned(path, base);
        }
        for registry in self.registries.values_mut() {
            resolve_spanned(&mut registry.password_file, base);
            if let Some(path) = &mut registry.ca_file {
                resolve(path, base);
            }
        }
        resolve_spanned(&mut self.api.token_file, base);
        for rule in &mut self.trust.signatures {
            resolve(rule.public_key.get_mut(), base);
        }
        if let Some(path) = &mut self.state.path {
            resolve(path, base);
        }
    }
}

fn resolve_spanned(path: &mut Option<Spanned<PathBuf>>, base: &Path) {
    if let Some(path) = path {
        resolve(path.get_mut(), base);
    }
}

fn resolve(path: &mut PathBuf, base: &Path) {
    // An empty path means "not set" and stays empty.
    if !path.as_os_str().is_empty() && path.is_relative() {
        *path = base.join(&*path);
    }
}
