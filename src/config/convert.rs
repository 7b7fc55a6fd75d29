//! From layers to `Config` and back: parsing the file, applying the environment and the flags
//! to the raw structs, then defaults, cross-key rules and `password_file` reading; and the
//! reverse, `Config` to redacted TOML through the same raw structs. `[[window]]` entries are
//! converted in `window`.

mod service;
mod signatures;
mod window;

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::env::{self, Applied, Lookup};
use super::error::ConfigError;
use super::raw::{
    RawConfig, RawDocker, RawHealth, RawLog, RawPolicy, RawRegistry, RawSchedule, RawState,
    RawTrust,
};
use super::time::{CronValue, IntervalValue, TimezoneValue};
use super::value::{DockerHost, DurationValue, PasswordMarker, RegistryHost, StrategyValue};
use super::{
    Config, DockerConfig, HealthConfig, LogConfig, Overrides, PolicyConfig, RegistryConfig,
    ScheduleConfig, StateConfig, TlsPaths, TrustConfig,
};
use crate::schedule::{self, Schedule};
use crate::secret::Secret;

/// `file` is the configuration file's path and text, `None` when the default file is absent.
pub(super) fn load(
    file: Option<(&Path, &str)>,
    env: &Lookup,
    flags: &Overrides,
) -> Result<Config, ConfigError> {
    let mut raw = match file {
        Some((path, text)) => parse(path, text)?,
        None => RawConfig::default(),
    };
    let applied = env::apply(&mut raw, env)?;
    apply_flags(&mut raw, flags)?;
    convert(
        raw,
        &Context {
            file,
            applied: &applied,
        },
    )
}

fn parse(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let mut raw: RawConfig =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(path.to_path_buf(), text, &e))?;
    if let Some(dir) = path.parent() {
        raw.resolve_paths(dir);
    }
    Ok(raw)
}

fn apply_flags(raw: &mut RawConfig, flags: &Overrides) -> Result<(), ConfigError> {
    if let Some(host) = flags
        .docker_host
        .as_deref()
        .filter(|h| !h.trim().is_empty())
    {
        let host = host.parse::<DockerHost>().map_err(|e| ConfigError::Flag {
            flag: "--docker-host",
            value: host.to_string(),
            message: e.to_string(),
        })?;
        raw.docker.host = Some(host);
    }
    if let Some(format) = flags.log_format {
        raw.log.format = Some(format);
    }
    if let Some(level) = flags.log_level {
        raw.log.level = Some(level);
    }
    Ok(())
}

/// Where the merged raw values came from, to report a value that is wrong in combination.
struct Context<'a> {
    file: Option<(&'a Path, &'a str)>,
    applied: &'a Applied,
}

impl Context<'_> {
    /// An error about `key`, whose value sits at `span` in the file unless a variable set it.
    fn error(&self, key: &str, span: Range<usize>, message: String) -> ConfigError {
        match (self.applied.source_of(key), self.file) {
            (Some((name, value)), _) => ConfigError::Env {
                name: name.to_string(),
                value: value.to_string(),
                message,
            },
            (None, Some((path, text))) => ConfigError::at(path.to_path_buf(), text, span, message),
            // Spanned values come from the file or a variable, so this is only a safe default.
            (None, None) => ConfigError::Invalid {
                key: key.to_string(),
                message,
            },
        }
    }
}

fn convert(raw: RawConfig, ctx: &Context) -> Result<Config, ConfigError> {
    let defaults = Config::default();
    let mut registries = std::collections::BTreeMap::new();
    for (host, entry) in raw.registries {
        let entry = registry(&host.0, entry, ctx)?;
        registries.insert(host.0, entry);
    }
    let allowed_registries = raw.trust.allowed_registries.map(|hosts| {
        let hosts = hosts.into_iter().map(|h| h.0);
        hosts.collect()
    });
    let schedule = schedule_config(raw.schedule, defaults.schedule);
    Ok(Config {
        docker: docker(raw.docker, defaults.docker, ctx)?,
        windows: window::windows(raw.windows, schedule.timezone, ctx)?,
        schedule,
        policy: policy(raw.policy, defaults.policy),
        health: HealthConfig {
            wait: raw.health.wait.map_or(defaults.health.wait, |d| d.0),
            timeout: raw.health.timeout.map_or(defaults.health.timeout, |d| d.0),
            rollback: raw.health.rollback.unwrap_or(defaults.health.rollback),
        },
        registries,
        trust: TrustConfig {
            allowed_registries: allowed_registries.unwrap_or(defaults.trust.allowed_registries),
            signatures: signatures::rules(raw.trust.signatures, ctx)?,
        },
        notify: service::notify(raw.notify),
        api: service::api(raw.api, ctx)?,
        state: StateConfig {
            path: raw
                .state
                .path
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(defaults.state.path),
        },
        log: LogConfig {
            format: raw.log.format.unwrap_or(defaults.log.format),
            level: raw.log.level.unwrap_or(defaults.log.level),
        },
        source: ctx.file.map(|(path, _)| path.to_path_buf()),
    })
}

fn docker(
    raw: RawDocker,
    default: DockerConfig,
    ctx: &Context,
) -> Result<DockerConfig, ConfigError> {
    let host = raw.host.map(|h| h.0).filter(|h| !h.is_empty());
    let paths = [
        ("tls_ca", set_path(raw.tls_ca)),
        ("tls_cert", set_path(raw.tls_cert)),
        ("tls_key", set_path(raw.tls_key)),
    ];
    let tls = match paths {
        [(_, Some(ca)), (_, Some(cert)), (_, Some(key))] => Some(TlsPaths {
            ca: ca.into_inner(),
            cert: cert.into_inner(),
            key: key.into_inner(),
        }),
        [(_, None), (_, None), (_, None)] => None,
        // A TLS endpoint needs all three (Docker's own client does too); point at one given.
        _ => {
            let missing: Vec<_> = paths
                .iter()
                .filter(|(_, p)| p.is_none())
                .map(|(k, _)| *k)
                .collect();
            let verb = if missing.len() == 1 { "is" } else { "are" };
            let missing = format!("{} {verb}", missing.join(" and "));
            let (key, given) = paths
                .iter()
                .find_map(|(key, path)| path.as_ref().map(|p| (*key, p)))
                .expect("proven: not all three are None, or the arm above matched");
            let message =
                format!("tls_ca, tls_cert and tls_key are set together, but {missing} not set");
            return Err(ctx.error(&format!("docker.{key}"), given.span(), message));
        }
    };
    Ok(DockerConfig {
        host: host.unwrap_or(default.host),
        tls,
    })
}

/// A non-empty `cron` wins over `interval`; either way it runs in `timezone`.
fn schedule_config(raw: RawSchedule, default: ScheduleConfig) -> ScheduleConfig {
    let timezone = raw.timezone.map_or(default.timezone, |tz| tz.0);
    let schedule = match raw.cron.and_then(|cron| cron.0) {
        Some(cron) => cron.with_timezone(timezone),
        None => raw
            .interval
            .map_or(default.schedule, |every| Schedule::Interval(every.0.0)),
    };
    ScheduleConfig {
        schedule,
        timezone,
        update_on_start: raw.update_on_start.unwrap_or(default.update_on_start),
        run_once: raw.run_once.unwrap_or(default.run_once),
    }
}

fn policy(raw: RawPolicy, default: PolicyConfig) -> PolicyConfig {
    PolicyConfig {
        selection: raw.selection.unwrap_or(default.selection),
        update: raw.update.map_or(default.update, |s| s.0),
        min_age: raw.min_age.map_or(default.min_age, |d| d.0),
        monitor_only: raw.monitor_only.unwrap_or(default.monitor_only),
        include_stopped: raw.include_stopped.unwrap_or(default.include_stopped),
        cleanup: raw.cleanup.unwrap_or(default.cleanup),
        scope: raw.scope.filter(|s| !s.is_empty()).or(default.scope),
        stop_timeout: raw.stop_timeout.map_or(default.stop_timeout, |d| d.0),
    }
}

fn registry(host: &str, raw: RawRegistry, ctx: &Context) -> Result<RegistryConfig, ConfigError> {
    // Registry tables have no environment form, so every span here is in the file.
    let key = |name| format!("registries.\"{host}\".{name}");
    let username = raw.username.filter(|u| !u.get_ref().is_empty());
    let password_file = set_path(raw.password_file);
    match (&username, &password_file) {
        (Some(username), None) => {
            let message = "username is set but password_file is not".to_string();
            return Err(ctx.error(&key("username"), username.span(), message));
        }
        (None, Some(file)) => {
            let message = "password_file is set but username is not".to_string();
            return Err(ctx.error(&key("password_file"), file.span(), message));
        }
        _ => {}
    }
    if let Some(marker) = &raw.password
        && *marker.get_ref() == PasswordMarker::Redacted
        && password_file.is_none()
    {
        let message =
            "password = \"***\" stands for the content of password_file, which is not set";
        return Err(ctx.error(&key("password"), marker.span(), message.to_string()));
    }
    let password_file = password_file.map(Spanned::into_inner);
    let password = match &password_file {
        Some(path) => Some(read_password(host, path)?),
        None => None,
    };
    Ok(RegistryConfig {
        username: username.map(Spanned::into_inner),
        password,
        password_file,
        ca_file: raw.ca_file.filter(|p| !p.as_os_str().is_empty()),
        insecure: raw.insecure.unwrap_or(false),
    })
}

/// An empty path is how TOML says "not set".
fn set_path(path: Option<Spanned<PathBuf>>) -> Option<Spanned<PathBuf>> {
    path.filter(|p| !p.get_ref().as_os_str().is_empty())
}

/// The file's content without its trailing newline (`echo secret > file` writes one).
fn read_password(registry: &str, path: &Path) -> Result<Secret, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::PasswordFile {
        registry: registry.to_string(),
        path: path.to_path_buf(),
        source,
    })?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(ConfigError::EmptyPasswordFile {
            registry: registry.to_string(),
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(password))
}

pub(super) fn to_toml_redacted(config: &Config) -> String {
    // Proven invariant: the raw structs hold only strings, booleans, arrays and tables, every
    // Option is Some and every path went through `printable`, so serializing cannot fail.
    toml::to_string(&to_raw(config)).expect("the raw configuration always serializes")
}

/// `Config` as raw structs with every key set; the password becomes `"***"` here, so the
/// secret's text never reaches the serializer.
fn to_raw(config: &Config) -> RawConfig {
    let tls = config.docker.tls.as_ref();
    let tls_path = |pick: fn(&TlsPaths) -> &PathBuf| Some(printable(tls.map(pick)));
    RawConfig {
        docker: RawDocker {
            host: Some(DockerHost(config.docker.host.clone())),
            tls_ca: tls_path(|t| &t.ca),
            tls_cert: tls_path(|t| &t.cert),
            tls_key: tls_path(|t| &t.key),
        },
        schedule: raw_schedule(&config.schedule),
        policy: RawPolicy {
            selection: Some(config.policy.selection),
            update: Some(StrategyValue(config.policy.update)),
            min_age: Some(DurationValue(config.policy.min_age)),
            monitor_only: Some(config.policy.monitor_only),
            include_stopped: Some(config.policy.include_stopped),
            cleanup: Some(config.policy.cleanup),
            scope: Some(config.policy.scope.clone().unwrap_or_default()),
            stop_timeout: Some(DurationValue(config.policy.stop_timeout)),
        },
        health: RawHealth {
            wait: Some(DurationValue(config.health.wait)),
            timeout: Some(DurationValue(config.health.timeout)),
            rollback: Some(config.health.rollback),
        },
        windows: config.windows.iter().map(window::raw_window).collect(),
        registries: config
            .registries
            .iter()
            .map(|(host, registry)| (RegistryHost(host.clone()), raw_registry(registry)))
            .collect(),
        trust: RawTrust {
            allowed_registries: Some(
                config
                    .trust
                    .allowed_registries
                    .iter()
                    .cloned()
                    .map(RegistryHost)
                    .collect(),
            ),
            signatures: config
                .trust
                .signatures
                .iter()
                .map(signatures::raw_rule)
                .collect(),
        },
        notify: service::raw_notify(&config.notify),
        api: service::raw_api(&config.api),
        state: RawState {
            path: Some(printable(Some(&config.state.path)).into_inner()),
        },
        log: RawLog {
            format: Some(config.log.format),
            level: Some(config.log.level),
        },
    }
}

/// With a cron expression, `interval` prints its default: it is unused, and the printout
/// must still parse back to the same schedule.
fn raw_schedule(config: &ScheduleConfig) -> RawSchedule {
    let (cron, interval) = match &config.schedule {
        cron @ Schedule::Cron { .. } => (Some(cron.clone()), schedule::DEFAULT_INTERVAL),
        Schedule::Interval(every) => (None, *every),
    };
    RawSchedule {
        cron: Some(CronValue(cron)),
        interval: Some(IntervalValue(DurationValue(interval))),
        timezone: Some(TimezoneValue(config.timezone)),
        update_on_start: Some(config.update_on_start),
        run_once: Some(config.run_once),
    }
}

fn raw_registry(registry: &RegistryConfig) -> RawRegistry {
    let password = match registry.password {
        Some(_) => PasswordMarker::Redacted,
        None => PasswordMarker::None,
    };
    RawRegistry {
        username: Some(Spanned::new(
            0..0,
            registry.username.clone().unwrap_or_default(),
        )),
        password: Some(Spanned::new(0..0, password)),
        password_file: Some(printable(registry.password_file.as_ref())),
        ca_file: Some(printable(registry.ca_file.as_ref()).into_inner()),
        insecure: Some(registry.insecure),
    }
}

/// A path TOML can hold: the serializer refuses a path that is not UTF-8, so print it lossily.
fn printable(path: Option<&PathBuf>) -> Spanned<PathBuf> {
    let text = path.map(|p| p.to_string_lossy().into_owned());
    Spanned::new(0..0, PathBuf::from(text.unwrap_or_default()))
}
