//! Tests of loading: defaults, the file, password files and the redacted printout; the
//! helpers the other test modules share.

mod errors;
mod layers;
mod service;
mod time;
mod trust;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveTime, Weekday, WeekdaySet};
use chrono_tz::Tz;
use tempfile::TempDir;

use super::*;

const PATH: &str = "/etc/refit/refit.toml";

/// An environment made of `pairs`, never the process's own.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Loads `text` as if read from `PATH`, without touching the disk.
fn load_text(text: &str, env: &Lookup, flags: &Overrides) -> Result<Config, ConfigError> {
    convert::load(Some((Path::new(PATH), text)), env, flags)
}

fn parse(text: &str) -> Config {
    load_text(text, &no_env, &Overrides::default()).unwrap()
}

fn file_error(text: &str) -> String {
    let error = load_text(text, &no_env, &Overrides::default()).unwrap_err();
    assert!(matches!(error, ConfigError::File { .. }), "{error:?}");
    error.to_string()
}

fn from_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    convert::load(None, &env(pairs), &Overrides::default())
}

#[test]
fn defaults() {
    let config = convert::load(None, &no_env, &Overrides::default()).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.docker.host, "unix:///var/run/docker.sock");
    assert_eq!(config.docker.tls, None);
    assert_eq!(config.policy.selection, Selection::OptIn);
    assert!(!config.policy.monitor_only && !config.policy.include_stopped);
    assert!(!config.policy.cleanup);
    assert_eq!(config.policy.scope, None);
    assert_eq!(config.policy.stop_timeout, Duration::from_secs(10));
    assert_eq!(config.policy.update, Strategy::Digest);
    assert_eq!(config.policy.min_age, Duration::ZERO);
    assert_eq!(
        config.schedule.schedule,
        Schedule::Interval(Duration::from_secs(24 * 60 * 60))
    );
    assert_eq!(config.schedule.timezone, Tz::UTC);
    assert!(!config.schedule.update_on_start && !config.schedule.run_once);
    assert!(config.windows.is_empty());
    assert_eq!(config.state.path, Path::new("/var/lib/refit/refit.db"));
    assert!(config.registries.is_empty() && config.trust.allowed_registries.is_empty());
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.log.level, LogLevel::Info);
    assert_eq!(config.source, None);
    // An empty file and empty sections mean the defaults too.
    assert_eq!(
        Config {
            source: None,
            ..parse("[docker]\n[schedule]\n[policy]\n[trust]\n[state]\n[log]\n")
        },
        Config::default()
    );
}

#[test]
fn missing_default_file_means_defaults_but_missing_explicit_file_is_an_error() {
    let dir = TempDir::new().unwrap();
    let absent = dir.path().join("refit.toml");
    assert!(read_file(None, &absent).unwrap().is_none());

    let error = Config::load(Some(&absent), &no_env, &Overrides::default()).unwrap_err();
    assert!(matches!(error, ConfigError::Missing { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("configuration file {} does not exist", absent.display())
    );

    fs::write(&absent, "[log]\nlevel = \"debug\"\n").unwrap();
    let (path, text) = read_file(None, &absent).unwrap().unwrap();
    assert_eq!(
        (path, text.as_str()),
        (absent.clone(), "[log]\nlevel = \"debug\"\n")
    );
    let config = Config::load(Some(&absent), &no_env, &Overrides::default()).unwrap();
    assert_eq!(config.log.level, LogLevel::Debug);
    assert_eq!(config.source, Some(absent));
}

/// A file setting every key to something other than its default.
fn full_file(dir: &Path) -> String {
    fs::write(dir.join("registry.pw"), "s3cr3t-pa55\n").unwrap();
    fs::write(dir.join("api.token"), "t0ken-s3cr3t\n").unwrap();
    format!(
        r#"
[docker]
host = "tcp://10.0.0.5:2376"
tls_ca = "/certs/ca.pem"
tls_cert = "/certs/cert.pem"
tls_key = "/certs/key.pem"

[schedule]
cron = "0 0 4 * * 1-5"
interval = "6h"
timezone = "Europe/Berlin"
update_on_start = true
run_once = true

[policy]
selection = "all"
update = "semver-minor"
monitor_only = true
include_stopped = true
cleanup = true
scope = "prod"
min_age = "2h"
stop_timeout = "90s"

[health]
wait = "5s"
timeout = "2m"
rollback = false

[[window]]
name = "nightly"
days = ["mon", "Tuesday", "WED"]
start = "22:00"
end = "02:00"
timezone = "America/New_York"

[[window]]
name = "weekend"
days = ["sat", "sun"]
start = "00:00"
end = "00:00"
default = true

[registries."127.0.0.1:5000"]
username = "robot"
password_file = "{pw}"
ca_file = "/certs/registry-ca.pem"
insecure = true

[registries."ghcr.io"]
insecure = false

[trust]
allowed_registries = ["ghcr.io", "127.0.0.1:5000"]

[notify]
urls = ["generic+https://hooks.example.com/in/s3cr3t-hook", "slack://A/B/s3cr3t-slack"]

[api]
listen = "127.0.0.1:8080"
token_file = "{token}"
metrics_public = true

[state]
path = "/data/refit.db"

[log]
format = "json"
level = "debug"
"#,
        pw = dir.join("registry.pw").display(),
        token = dir.join("api.token").display()
    )
}

#[test]
fn full_file_sets_every_key() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("refit.toml");
    fs::write(&path, full_file(dir.path())).unwrap();
    let config = Config::load(Some(&path), &no_env, &Overrides::default()).unwrap();

    let expected = Config {
        docker: DockerConfig {
            host: "tcp://10.0.0.5:2376".into(),
            tls: Some(TlsPaths {
                ca: "/certs/ca.pem".into(),
                cert: "/certs/cert.pem".into(),
                key: "/certs/key.pem".into(),
            }),
        },
        schedule: ScheduleConfig {
            schedule: Schedule::parse("0 0 4 * * 1-5", chrono_tz::Europe::Berlin).unwrap(),
            timezone: chrono_tz::Europe::Berlin,
            update_on_start: true,
            run_once: true,
        },
        policy: PolicyConfig {
            selection: Selection::All,
            update: Strategy::SemverMinor,
            monitor_only: true,
            include_stopped: true,
            cleanup: true,
            scope: Some("prod".into()),
            min_age: Duration::from_secs(2 * 60 * 60),
            stop_timeout: Duration::from_secs(90),
        },
        health: HealthConfig {
            wait: Duration::from_secs(5),
            timeout: Duration::from_secs(120),
            rollback: false,
        },
        windows: vec![
            Window {
                name: "nightly".into(),
                days: WeekdaySet::from_array([Weekday::Mon, Weekday::Tue, Weekday::Wed]),
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
                tz: chrono_tz::America::New_York,
                default: false,
            },
            Window {
                name: "weekend".into(),
                days: WeekdaySet::from_array([Weekday::Sat, Weekday::Sun]),
                start: NaiveTime::MIN,
                end: NaiveTime::MIN,
                // A window without a zone takes the schedule's.
                tz: chrono_tz::Europe::Berlin,
                default: true,
            },
        ],
        registries: BTreeMap::from([
            (
                "127.0.0.1:5000".to_string(),
                RegistryConfig {
                    username: Some("robot".into()),
                    password: Some(Secret::new("s3cr3t-pa55")),
                    password_file: Some(dir.path().join("registry.pw")),
                    ca_file: Some("/certs/registry-ca.pem".into()),
                    insecure: true,
                },
            ),
            ("ghcr.io".to_string(), RegistryConfig::default()),
        ]),
        trust: TrustConfig {
            allowed_registries: vec!["ghcr.io".into(), "127.0.0.1:5000".into()],
            signatures: Vec::new(),
        },
        notify: NotifyConfig {
            urls: vec![
                "generic+https://hooks.example.com/in/s3cr3t-hook"
                    .parse()
                    .unwrap(),
                "slack://A/B/s3cr3t-slack".parse().unwrap(),
            ],
        },
        api: ApiConfig {
            listen: Some("127.0.0.1:8080".parse().unwrap()),
            token: Some(Secret::new("t0ken-s3cr3t")),
            token_file: Some(dir.path().join("api.token")),
            metrics_public: true,
        },
        state: StateConfig {
            path: "/data/refit.db".into(),
        },
        log: LogConfig {
            format: LogFormat::Json,
            level: LogLevel::Debug,
        },
        source: Some(path),
    };
    assert_eq!(config, expected);
}

#[test]
fn printed_toml_parses_back_to_an_equal_config() {
    let dir = TempDir::new().unwrap();
    let mut config = parse(&full_file(dir.path()));
    // Notification URLs are secrets written inline: they print redacted, which does not
    // parse back (see `secrets_written_inline_print_redacted_and_are_refused_back`).
    config.notify.urls.clear();
    let printed = config.to_toml_redacted();
    assert_eq!(parse(&printed), config, "{printed}");

    let defaults = Config::default();
    let printed = defaults.to_toml_redacted();
    let parsed = convert::load(
        Some((Path::new(PATH), &printed)),
        &no_env,
        &Overrides::default(),
    );
    assert_eq!(
        Config {
            source: None,
            ..parsed.unwrap()
        },
        defaults
    );
}

#[test]
fn printed_toml_has_every_section_and_key() {
    let printed = Config::default().to_toml_redacted();
    let table: toml::Table = toml::from_str(&printed).unwrap();
    let keys: Vec<String> = table
        .iter()
        .flat_map(|(section, value)| {
            let keys: Vec<_> = value.as_table().unwrap().keys().cloned().collect();
            keys.into_iter().map(move |key| format!("{section}.{key}"))
        })
        .collect();
    assert_eq!(
        keys,
        [
            "api.listen",
            "api.metrics_public",
            "api.token",
            "api.token_file",
            "docker.host",
            "docker.tls_ca",
            "docker.tls_cert",
            "docker.tls_key",
            "health.rollback",
            "health.timeout",
            "health.wait",
            "log.format",
            "log.level",
            "notify.urls",
            "policy.cleanup",
            "policy.include_stopped",
            "policy.min_age",
            "policy.monitor_only",
            "policy.scope",
            "policy.selection",
            "policy.stop_timeout",
            "policy.update",
            "schedule.cron",
            "schedule.interval",
            "schedule.run_once",
            "schedule.timezone",
            "schedule.update_on_start",
            "state.path",
            "trust.allowed_registries",
        ]
    );
    assert!(printed.contains("host = \"unix:///var/run/docker.sock\""));
    assert!(printed.contains("stop_timeout = \"10s\""));
    assert!(printed.contains("selection = \"opt-in\""));
    assert!(printed.contains("interval = \"24h\""), "{printed}");
    assert!(printed.contains("path = \"/var/lib/refit/refit.db\""));
    // No windows, no [[window]].
    assert!(!printed.contains("window"), "{printed}");
}

#[test]
fn password_is_read_from_its_file_and_never_printed() {
    let dir = TempDir::new().unwrap();
    let config = parse(&full_file(dir.path()));
    let registry = &config.registries["127.0.0.1:5000"];
    // The trailing newline is trimmed.
    assert_eq!(registry.password.as_ref().unwrap().expose(), "s3cr3t-pa55");

    let printed = config.to_toml_redacted();
    let debug = format!("{config:?} {config:#?}");
    for output in [&printed, &debug] {
        assert!(!output.contains("s3cr3t"), "{output}");
    }
    assert!(printed.contains("password = \"***\""), "{printed}");
    // The username is not a secret.
    assert!(printed.contains("username = \"robot\""), "{printed}");
    // A registry without a password prints an empty one.
    let ghcr = printed.split("[registries.\"ghcr.io\"]").nth(1).unwrap();
    assert!(ghcr.contains("password = \"\""), "{printed}");
}

#[test]
fn relative_paths_are_relative_to_the_file() {
    let dir = TempDir::new().unwrap();
    fs::create_dir(dir.path().join("secrets")).unwrap();
    fs::write(dir.path().join("secrets/pw"), "pw").unwrap();
    let path = dir.path().join("refit.toml");
    let text = "[registries.\"ghcr.io\"]\nusername = \"u\"\npassword_file = \"secrets/pw\"\n\
                ca_file = \"ca.crt\"\n";
    fs::write(&path, text).unwrap();
    let config = Config::load(Some(&path), &no_env, &Overrides::default()).unwrap();
    let registry = &config.registries["ghcr.io"];
    assert_eq!(registry.password_file, Some(dir.path().join("secrets/pw")));
    assert_eq!(registry.ca_file, Some(dir.path().join("ca.crt")));
    assert_eq!(registry.password.as_ref().unwrap().expose(), "pw");
}

#[test]
fn keyword_values_parse_as_printed() {
    for level in LogLevel::ALL {
        assert_eq!(level.as_str().parse::<LogLevel>(), Ok(*level));
    }
    for format in LogFormat::ALL {
        assert_eq!(format.to_string().parse::<LogFormat>(), Ok(*format));
    }
    assert_eq!("OPT-IN".parse::<Selection>(), Ok(Selection::OptIn));
}

/// docs/configuration.md is the operator's reference: every variable refit reads is in it.
#[test]
fn the_configuration_page_lists_every_variable() {
    let page = include_str!("../../../docs/configuration.md");
    for variable in super::VARIABLES {
        assert!(
            page.contains(&format!("`{}`", variable.name)),
            "docs/configuration.md lacks {}",
            variable.name
        );
    }
}
