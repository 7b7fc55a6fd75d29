//! The environment layer: one table of every variable refit reads (its own `REFIT_*`, Docker's
//! and Watchtower's aliases), what key each sets and how its value is parsed. The table is
//! public so the documentation can be generated from it and checked against it.
//!
//! Registry tables have no environment form: a password belongs in a file.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::Selection;
use super::error::ConfigError;
use super::raw::RawConfig;
use super::service::{self, ListenValue, TokenValue};
use super::value::{InvalidValue, RegistryHost, parse_bool};

/// How the environment is read: `std::env::var(name).ok()` in refit, a map in tests.
pub type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Sets the variable's key(s) in the raw configuration from its value; `Ok(false)` when the
/// value leaves everything as it was (`DOCKER_TLS_VERIFY=0`).
type Apply = fn(&mut RawConfig, &str, &Lookup) -> Result<bool, InvalidValue>;

/// One environment variable refit reads.
pub struct EnvVar {
    pub name: &'static str,
    /// The configuration key it sets, as `section.key` (several, comma-separated, for
    /// `DOCKER_TLS_VERIFY`).
    pub key: &'static str,
    pub description: &'static str,
    /// An alias (Docker's or Watchtower's): the `REFIT_*` variable for the same key wins.
    pub alias: bool,
    apply: Apply,
}

impl EnvVar {
    /// True when this variable sets `key` (`"policy.cleanup"`).
    pub fn sets(&self, key: &str) -> bool {
        self.key.split(", ").any(|k| k == key)
    }
}

/// `raw.<field> = Some(parse(value)?)`, as a plain function pointer for the table.
macro_rules! set {
    ($($field:ident).+, $parse:expr) => {
        |raw: &mut RawConfig, value: &str, _: &Lookup| {
            raw.$($field).+ = Some($parse(value)?);
            Ok(true)
        }
    };
}

const fn refit(
    name: &'static str,
    key: &'static str,
    apply: Apply,
    description: &'static str,
) -> EnvVar {
    EnvVar {
        name,
        key,
        description,
        alias: false,
        apply,
    }
}

const fn alias(
    name: &'static str,
    key: &'static str,
    apply: Apply,
    description: &'static str,
) -> EnvVar {
    EnvVar {
        name,
        key,
        description,
        alias: true,
        apply,
    }
}

const TLS_KEYS: &str = "docker.tls_ca, docker.tls_cert, docker.tls_key";

/// Every variable, `REFIT_*` first, then the aliases. Aliases are applied first, so that a
/// `REFIT_*` variable overrides its alias.
#[rustfmt::skip]
pub static VARIABLES: &[EnvVar] = &[
    refit("REFIT_DOCKER_HOST", "docker.host", set!(docker.host, str::parse),
        "Docker engine address (unix:///path, tcp://host:port)"),
    refit("REFIT_DOCKER_TLS_CA", "docker.tls_ca", set!(docker.tls_ca, path),
        "CA certificate of the engine's TLS endpoint"),
    refit("REFIT_DOCKER_TLS_CERT", "docker.tls_cert", set!(docker.tls_cert, path),
        "client certificate for the engine's TLS endpoint"),
    refit("REFIT_DOCKER_TLS_KEY", "docker.tls_key", set!(docker.tls_key, path),
        "client key for the engine's TLS endpoint"),
    refit("REFIT_SCHEDULE_CRON", "schedule.cron", set!(schedule.cron, str::parse),
        "6-field cron with seconds, or a descriptor (@daily, @every 6h); wins over the interval"),
    refit("REFIT_SCHEDULE_INTERVAL", "schedule.interval", set!(schedule.interval, str::parse),
        "time between passes when no cron is set (24h, 30m, or seconds)"),
    refit("REFIT_SCHEDULE_TIMEZONE", "schedule.timezone", set!(schedule.timezone, str::parse),
        "IANA time zone of the cron expression and of windows that name none"),
    refit("REFIT_SCHEDULE_UPDATE_ON_START", "schedule.update_on_start",
        set!(schedule.update_on_start, parse_bool),
        "run a pass right after refit run starts"),
    refit("REFIT_SCHEDULE_RUN_ONCE", "schedule.run_once", set!(schedule.run_once, parse_bool),
        "refit run does one pass and exits"),
    refit("REFIT_POLICY_SELECTION", "policy.selection", set!(policy.selection, str::parse),
        "which containers are managed: opt-in or all"),
    refit("REFIT_POLICY_UPDATE", "policy.update", set!(policy.update, str::parse),
        "default strategy: digest, semver-patch, semver-minor, semver-major or none"),
    refit("REFIT_POLICY_MONITOR_ONLY", "policy.monitor_only", set!(policy.monitor_only, parse_bool),
        "report available updates, apply none"),
    refit("REFIT_POLICY_INCLUDE_STOPPED", "policy.include_stopped",
        set!(policy.include_stopped, parse_bool),
        "also update stopped containers"),
    refit("REFIT_POLICY_CLEANUP", "policy.cleanup", set!(policy.cleanup, parse_bool),
        "remove the old image after an update"),
    refit("REFIT_POLICY_SCOPE", "policy.scope", set!(policy.scope, text),
        "manage only the containers labelled with this scope"),
    refit("REFIT_POLICY_MIN_AGE", "policy.min_age", set!(policy.min_age, str::parse),
        "apply a new digest only once refit has known it this long"),
    refit("REFIT_POLICY_STOP_TIMEOUT", "policy.stop_timeout", set!(policy.stop_timeout, str::parse),
        "stop timeout for containers that set none (90s, 5m, or seconds)"),
    refit("REFIT_HEALTH_WAIT", "health.wait", set!(health.wait, str::parse),
        "how long a new container must stay running after its start"),
    refit("REFIT_HEALTH_TIMEOUT", "health.timeout", set!(health.timeout, str::parse),
        "how long a new container with a healthcheck has to turn healthy"),
    refit("REFIT_HEALTH_ROLLBACK", "health.rollback", set!(health.rollback, parse_bool),
        "restore the old container when the new one fails the health gate"),
    refit("REFIT_TRUST_ALLOWED_REGISTRIES", "trust.allowed_registries",
        set!(trust.allowed_registries, registry_list),
        "registries images may come from, comma- or space-separated; empty: any"),
    refit("REFIT_NOTIFY_URLS", "notify.urls", set!(notify.urls, service::url_list),
        "notification URLs, space-separated (generic+https://, slack://, smtp://, ...)"),
    refit("REFIT_API_LISTEN", "api.listen", set!(api.listen, spanned_listen),
        "address of the HTTP API, e.g. 0.0.0.0:8080 or :8080; empty: no API"),
    refit("REFIT_API_TOKEN", "api.token", set!(api.token, spanned_token),
        "Bearer token of the HTTP API"),
    refit("REFIT_API_TOKEN_FILE", "api.token_file", set!(api.token_file, path),
        "file holding the HTTP API's Bearer token"),
    refit("REFIT_API_METRICS_PUBLIC", "api.metrics_public", set!(api.metrics_public, parse_bool),
        "serve /metrics without the token"),
    refit("REFIT_STATE_PATH", "state.path", set!(state.path, plain_path),
        "the SQLite state database (journal, history, announced digests)"),
    refit("REFIT_LOG_FORMAT", "log.format", set!(log.format, str::parse),
        "text or json"),
    refit("REFIT_LOG_LEVEL", "log.level", set!(log.level, str::parse),
        "error, warn, info, debug or trace"),
    alias("DOCKER_HOST", "docker.host", set!(docker.host, str::parse),
        "Docker's own engine address variable"),
    alias("DOCKER_TLS_VERIFY", TLS_KEYS, docker_tls_verify,
        "when true, tls_* keys left empty default to DOCKER_CERT_PATH/{ca,cert,key}.pem"),
    // Read by DOCKER_TLS_VERIFY; listed so the documentation names it.
    alias("DOCKER_CERT_PATH", TLS_KEYS, |_, _, _| Ok(false),
        "folder of ca.pem, cert.pem and key.pem for DOCKER_TLS_VERIFY (default ~/.docker)"),
    alias("WATCHTOWER_SCHEDULE", "schedule.cron", set!(schedule.cron, str::parse),
        "Watchtower's name for REFIT_SCHEDULE_CRON (6 fields with seconds)"),
    alias("WATCHTOWER_POLL_INTERVAL", "schedule.interval", set!(schedule.interval, str::parse),
        "Watchtower's name for REFIT_SCHEDULE_INTERVAL (seconds)"),
    alias("TZ", "schedule.timezone", set!(schedule.timezone, str::parse),
        "the usual time zone variable: the zone of the schedule and of windows"),
    alias("WATCHTOWER_RUN_ONCE", "schedule.run_once", set!(schedule.run_once, parse_bool),
        "Watchtower's name for REFIT_SCHEDULE_RUN_ONCE"),
    alias("WATCHTOWER_LABEL_ENABLE", "policy.selection", set!(policy.selection, label_enable),
        "true: opt-in (only containers labelled refit.enable=true), false: all"),
    alias("WATCHTOWER_CLEANUP", "policy.cleanup", set!(policy.cleanup, parse_bool),
        "Watchtower's name for REFIT_POLICY_CLEANUP"),
    alias("WATCHTOWER_MONITOR_ONLY", "policy.monitor_only", set!(policy.monitor_only, parse_bool),
        "Watchtower's name for REFIT_POLICY_MONITOR_ONLY"),
    alias("WATCHTOWER_INCLUDE_STOPPED", "policy.include_stopped",
        set!(policy.include_stopped, parse_bool),
        "Watchtower's name for REFIT_POLICY_INCLUDE_STOPPED"),
    alias("WATCHTOWER_SCOPE", "policy.scope", set!(policy.scope, text),
        "Watchtower's name for REFIT_POLICY_SCOPE"),
    alias("WATCHTOWER_NOTIFICATION_URL", "notify.urls", set!(notify.urls, service::url_list),
        "Watchtower's name for REFIT_NOTIFY_URLS (space-separated shoutrrr URLs)"),
    alias("WATCHTOWER_HTTP_API_TOKEN", "api.token", set!(api.token, spanned_token),
        "Watchtower's name for REFIT_API_TOKEN"),
    alias("WATCHTOWER_HTTP_API_UPDATE", "api.listen", watchtower_api,
        "true: serve the API on :8080 (Watchtower's port) unless api.listen says where"),
    alias("WATCHTOWER_HTTP_API_METRICS", "api.listen", watchtower_api,
        "true: serve the API, /metrics included, on :8080 unless api.listen says where"),
    alias("WATCHTOWER_TIMEOUT", "policy.stop_timeout", set!(policy.stop_timeout, str::parse),
        "Watchtower's name for REFIT_POLICY_STOP_TIMEOUT (it writes 30s)"),
];

/// The variables that were set, with their values, to say which one a bad value came from.
#[derive(Default)]
pub(super) struct Applied(Vec<(&'static EnvVar, String)>);

impl Applied {
    /// The variable that last set `key`, with its value.
    pub fn source_of(&self, key: &str) -> Option<(&'static str, &str)> {
        self.0
            .iter()
            .rev()
            .find(|(var, _)| var.sets(key))
            .map(|(var, value)| (var.name, value.as_str()))
    }
}

/// Applies the environment over `raw`: aliases first, then `REFIT_*`. A variable set to the
/// empty string counts as unset, as compose files often write `VAR=` for "not set".
pub(super) fn apply(raw: &mut RawConfig, env: &Lookup) -> Result<Applied, ConfigError> {
    let mut applied = Applied::default();
    let ordered = VARIABLES.iter().filter(|v| v.alias);
    for var in ordered.chain(VARIABLES.iter().filter(|v| !v.alias)) {
        let Some(value) = env(var.name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let changed = (var.apply)(raw, &value, env).map_err(|e| ConfigError::Env {
            name: var.name.to_string(),
            value: value.clone(),
            message: e.to_string(),
        })?;
        if changed {
            applied.0.push((var, value));
        }
    }
    Ok(applied)
}

// Values from the environment are trimmed: stray spaces in a compose file are not meant.
fn text(value: &str) -> Result<String, InvalidValue> {
    Ok(value.trim().to_string())
}

fn path(value: &str) -> Result<Spanned<PathBuf>, InvalidValue> {
    // The span is never read: `Applied::source_of` names the variable instead.
    Ok(Spanned::new(0..0, PathBuf::from(value.trim())))
}

fn plain_path(value: &str) -> Result<PathBuf, InvalidValue> {
    Ok(PathBuf::from(value.trim()))
}

fn spanned_listen(value: &str) -> Result<Spanned<ListenValue>, InvalidValue> {
    Ok(Spanned::new(0..0, value.parse()?))
}

fn spanned_token(value: &str) -> Result<Spanned<TokenValue>, InvalidValue> {
    Ok(Spanned::new(0..0, value.parse()?))
}

/// Watchtower serves its API on port 8080 once either flag is on; the file's or
/// `REFIT_API_LISTEN`'s address still wins.
fn watchtower_api(raw: &mut RawConfig, value: &str, _: &Lookup) -> Result<bool, InvalidValue> {
    if !parse_bool(value)? || raw.api.listen.is_some() {
        return Ok(false);
    }
    raw.api.listen = Some(spanned_listen(":8080")?);
    Ok(true)
}

fn registry_list(value: &str) -> Result<Vec<RegistryHost>, InvalidValue> {
    value
        .split([',', ' ', '\t', '\n'])
        .filter(|host| !host.is_empty())
        .map(str::parse)
        .collect()
}

fn label_enable(value: &str) -> Result<Selection, InvalidValue> {
    Ok(if parse_bool(value)? {
        Selection::OptIn
    } else {
        Selection::All
    })
}

/// Docker's convention: with `DOCKER_TLS_VERIFY` set, the client certificates are `ca.pem`,
/// `cert.pem` and `key.pem` in `DOCKER_CERT_PATH`, else in `~/.docker`. Only keys the file
/// left empty are filled; `REFIT_DOCKER_TLS_*` are applied after and override them.
fn docker_tls_verify(raw: &mut RawConfig, value: &str, env: &Lookup) -> Result<bool, InvalidValue> {
    if !parse_bool(value)? {
        return Ok(false);
    }
    let non_empty = |name| env(name).filter(|v: &String| !v.trim().is_empty());
    let dir = non_empty("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".docker")))
        .ok_or_else(|| {
            InvalidValue("DOCKER_CERT_PATH is not set (nor HOME, for ~/.docker)".into())
        })?;
    let docker = &mut raw.docker;
    let slots = [
        (&mut docker.tls_ca, "ca.pem"),
        (&mut docker.tls_cert, "cert.pem"),
        (&mut docker.tls_key, "key.pem"),
    ];
    for (slot, file) in slots {
        if slot
            .as_ref()
            .is_none_or(|p| p.get_ref().as_os_str().is_empty())
        {
            *slot = Some(Spanned::new(0..0, dir.join(file)));
        }
    }
    Ok(true)
}
