//! The configuration: the typed, validated `Config` the rest of refit reads, and how it is
//! loaded — the TOML file, then the environment, then the command-line flags, each layer
//! overriding the one before.
//!
//! - `raw`: the file as written (serde structs, every key optional).
//! - `value`: value types parsed the same way from the file, the environment and the flags;
//!   `time` holds those of `[schedule]` and `[[window]]`.
//! - `env`: the table of environment variables, `REFIT_*` and the Docker/Watchtower aliases.
//! - `convert`: defaults, cross-key rules and `password_file` reading; `Config` → TOML.
//!
//! Loading reads the file and the password files; nothing else here does IO, and the
//! environment is passed in, so tests never touch the process environment.

mod convert;
mod env;
mod error;
mod raw;
mod service;
mod time;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use crate::notify::NotifyUrl;
use crate::policy::Strategy;
use crate::schedule::Schedule;
use crate::secret::Secret;
use crate::window::Window;

pub use env::{EnvVar, Lookup, VARIABLES};
pub use error::ConfigError;
pub use value::{InvalidValue, LogFormat, LogLevel, Selection};

/// Where the file is read from when `--config` is not given; its absence is not an error.
pub const DEFAULT_PATH: &str = "/etc/refit/refit.toml";

/// Where the state database lives when `state.path` is not set.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/refit/refit.db";

/// The engine address when neither the file, the environment nor a flag gives one.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The effective configuration, defaults applied. `Default` is the built-in configuration.
///
/// Its `Debug` output is safe to log: registry passwords and the API token are `Secret`s,
/// notification URLs print redacted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub docker: DockerConfig,
    pub schedule: ScheduleConfig,
    pub policy: PolicyConfig,
    pub health: HealthConfig,
    /// The `[[window]]` entries in file order: names unique, at most one `default`.
    pub windows: Vec<Window>,
    /// Keyed by registry host as in a normalised image reference (`docker.io`, `ghcr.io`,
    /// `127.0.0.1:5000`).
    pub registries: BTreeMap<String, RegistryConfig>,
    pub trust: TrustConfig,
    pub notify: NotifyConfig,
    pub api: ApiConfig,
    pub state: StateConfig,
    pub log: LogConfig,
    /// The file this was loaded from; `None` for the built-in defaults.
    pub source: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DockerConfig {
    /// Always set: `docker.host`, else `DOCKER_HOST`, else `DEFAULT_DOCKER_HOST`.
    pub host: String,
    /// Set when the engine is reached over TLS; the three files always come together.
    pub tls: Option<TlsPaths>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            host: DEFAULT_DOCKER_HOST.to_string(),
            tls: None,
        }
    }
}

/// Certificate files for a TLS engine endpoint (`tcp://host:2376`); read by the engine
/// adapter, not here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// When `refit run` starts passes (`[schedule]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleConfig {
    /// `schedule.cron` when it is not empty (in `timezone`), else `schedule.interval`.
    pub schedule: Schedule,
    /// The zone of the cron expression, and of every window that names none.
    pub timezone: Tz,
    /// A pass right after start, before the first tick.
    pub update_on_start: bool,
    /// `refit run` does one pass and exits (Watchtower's `--run-once`).
    pub run_once: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            schedule: Schedule::default(),
            timezone: Tz::UTC,
            update_on_start: false,
            run_once: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PolicyConfig {
    pub selection: Selection,
    /// The strategy of containers without a `refit.update` label.
    pub update: Strategy,
    pub monitor_only: bool,
    pub include_stopped: bool,
    pub cleanup: bool,
    /// Only containers labelled with this scope are managed; `None` manages unscoped ones.
    pub scope: Option<String>,
    /// A new digest is applied only once refit has known it this long (`refit.min-age`
    /// overrides it).
    pub min_age: Duration,
    /// Used for containers that set no stop timeout of their own.
    pub stop_timeout: Duration,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            selection: Selection::OptIn,
            update: Strategy::Digest,
            monitor_only: false,
            include_stopped: false,
            cleanup: false,
            scope: None,
            min_age: Duration::ZERO,
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// The health gate after an update (`[health]`); `refit.health-timeout` and `refit.rollback`
/// override `timeout` and `rollback` per container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// The successor must stay running this long after its start.
    pub wait: Duration,
    /// With a healthcheck, it must turn `healthy` within this.
    pub timeout: Duration,
    /// Restore the old container when it does not.
    pub rollback: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            wait: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            rollback: true,
        }
    }
}

/// A `[registries."host"]` entry. `password` is `Some` exactly when `password_file` is: it is
/// the file's content, read at load time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegistryConfig {
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    /// Else the registry code falls back to `/etc/docker/certs.d/<host>/ca.crt`.
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP (loopback registries are always allowed it).
    pub insecure: bool,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrustConfig {
    /// Registry hosts images may come from; empty allows any.
    pub allowed_registries: Vec<String>,
    /// `[[trust.signatures]]` in file order, each key file read and checked at load.
    pub signatures: Vec<crate::trust::SignatureRule>,
}

/// Where notifications go (`[notify]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotifyConfig {
    pub urls: Vec<NotifyUrl>,
}

/// The HTTP API (`[api]`): off unless `listen` is set, and then a token is required unless
/// only public metrics are served.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiConfig {
    pub listen: Option<SocketAddr>,
    /// `token`, or the content of `token_file`.
    pub token: Option<Secret>,
    pub token_file: Option<PathBuf>,
    /// `/metrics` without the token.
    pub metrics_public: bool,
}

/// Where refit keeps its journal, history and announced digests (`[state]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateConfig {
    pub path: PathBuf,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            path: PathBuf::from(DEFAULT_STATE_PATH),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: LogLevel,
}

/// The CLI's global flags, the last layer. `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--docker-host`
    pub docker_host: Option<String>,
    /// `--log-format`
    pub log_format: Option<LogFormat>,
    /// `--log-level`
    pub log_level: Option<LogLevel>,
}

impl Config {
    /// Loads the file at `path` (`DEFAULT_PATH` when `None`; a missing default file means the
    /// built-in defaults, a missing explicit one is an error), then applies the environment
    /// read through `env` (`|name| std::env::var(name).ok()`), then `flags`.
    pub fn load(
        path: Option<&Path>,
        env: &Lookup,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let file = read_file(path, Path::new(DEFAULT_PATH))?;
        let file = file
            .as_ref()
            .map(|(path, text)| (path.as_path(), text.as_str()));
        convert::load(file, env, flags)
    }

    /// The effective configuration as TOML: every section and key, defaults included, with
    /// each secret printed as `"***"`. It parses back to an equal `Config` (but for `source`),
    /// unless it holds secrets written inline (`api.token`, notification URLs): those print
    /// redacted and are refused on input.
    pub fn to_toml_redacted(&self) -> String {
        convert::to_toml_redacted(self)
    }
}

/// The file's path and text; `None` when no path was given and `default` does not exist.
fn read_file(
    path: Option<&Path>,
    default: &Path,
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let explicit = path.is_some();
    let path = path.unwrap_or(default);
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some((path.to_path_buf(), text))),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ConfigError::Missing {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}
