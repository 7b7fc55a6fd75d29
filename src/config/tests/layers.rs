//! Tests of the layers: precedence, the environment table and its aliases, value parsing.

use std::time::Duration;

use super::*;

#[test]
fn precedence_is_file_then_env_then_flags() {
    let file =
        "[docker]\nhost = \"unix:///file.sock\"\n[log]\nlevel = \"warn\"\nformat = \"json\"\n";
    let vars = [
        ("DOCKER_HOST", "unix:///alias.sock"),
        ("REFIT_DOCKER_HOST", "unix:///env.sock"),
        ("REFIT_LOG_LEVEL", "debug"),
    ];
    let flags = Overrides {
        docker_host: Some("tcp://127.0.0.1:2375".into()),
        log_format: None,
        log_level: Some(LogLevel::Trace),
    };
    let config = |vars: &[(&str, &str)], flags: &Overrides| {
        let c = load_text(file, &env(vars), flags).unwrap();
        (c.docker.host, c.log.level, c.log.format)
    };
    let none = Overrides::default();
    assert_eq!(
        config(&[], &none),
        ("unix:///file.sock".into(), LogLevel::Warn, LogFormat::Json)
    );
    // DOCKER_HOST is an environment variable, so it beats the file.
    assert_eq!(config(&vars[..1], &none).0, "unix:///alias.sock");
    assert_eq!(
        config(&vars, &none),
        ("unix:///env.sock".into(), LogLevel::Debug, LogFormat::Json)
    );
    assert_eq!(
        config(&vars, &flags),
        (
            "tcp://127.0.0.1:2375".into(),
            LogLevel::Trace,
            LogFormat::Json
        )
    );
}

#[test]
fn refit_variables_beat_their_aliases() {
    let config = from_env(&[
        ("REFIT_POLICY_CLEANUP", "false"),
        ("WATCHTOWER_CLEANUP", "true"),
        ("REFIT_POLICY_SELECTION", "opt-in"),
        ("WATCHTOWER_LABEL_ENABLE", "false"),
        ("REFIT_POLICY_STOP_TIMEOUT", "5s"),
        ("WATCHTOWER_TIMEOUT", "30s"),
    ])
    .unwrap();
    assert!(!config.policy.cleanup);
    assert_eq!(config.policy.selection, Selection::OptIn);
    assert_eq!(config.policy.stop_timeout, Duration::from_secs(5));
}

#[test]
fn watchtower_aliases() {
    type Check = fn(&Config) -> bool;
    let cases: [(&str, &str, Check); 8] = [
        ("WATCHTOWER_LABEL_ENABLE", "true", |c| {
            c.policy.selection == Selection::OptIn
        }),
        ("WATCHTOWER_LABEL_ENABLE", "false", |c| {
            c.policy.selection == Selection::All
        }),
        ("WATCHTOWER_CLEANUP", "true", |c| c.policy.cleanup),
        ("WATCHTOWER_MONITOR_ONLY", "1", |c| c.policy.monitor_only),
        ("WATCHTOWER_INCLUDE_STOPPED", "yes", |c| {
            c.policy.include_stopped
        }),
        ("WATCHTOWER_SCOPE", " prod ", |c| {
            c.policy.scope.as_deref() == Some("prod")
        }),
        ("WATCHTOWER_TIMEOUT", "30s", |c| {
            c.policy.stop_timeout == Duration::from_secs(30)
        }),
        ("DOCKER_HOST", "tcp://docker:2375", |c| {
            c.docker.host == "tcp://docker:2375"
        }),
    ];
    for (name, value, check) in cases {
        let config = from_env(&[(name, value)]).unwrap();
        assert!(check(&config), "{name}={value}: {config:?}");
    }
    // The file's `all` is overridden by the alias too.
    let config = load_text(
        "[policy]\nselection = \"all\"\n",
        &env(&[("WATCHTOWER_LABEL_ENABLE", "true")]),
        &Overrides::default(),
    );
    assert_eq!(config.unwrap().policy.selection, Selection::OptIn);
}

#[test]
fn every_refit_variable() {
    let config = from_env(&[
        ("REFIT_DOCKER_HOST", "tcp://h:2376"),
        ("REFIT_DOCKER_TLS_CA", "/c/ca.pem"),
        ("REFIT_DOCKER_TLS_CERT", "/c/cert.pem"),
        ("REFIT_DOCKER_TLS_KEY", "/c/key.pem"),
        ("REFIT_SCHEDULE_CRON", "0 0 4 * * *"),
        ("REFIT_SCHEDULE_INTERVAL", "3600"),
        ("REFIT_SCHEDULE_TIMEZONE", "Europe/Berlin"),
        ("REFIT_SCHEDULE_UPDATE_ON_START", "true"),
        ("REFIT_SCHEDULE_RUN_ONCE", "yes"),
        ("REFIT_POLICY_SELECTION", "ALL"),
        ("REFIT_POLICY_UPDATE", "Semver-Patch"),
        ("REFIT_POLICY_MIN_AGE", "1h 30m"),
        ("REFIT_POLICY_MONITOR_ONLY", "TRUE"),
        ("REFIT_POLICY_INCLUDE_STOPPED", "Yes"),
        ("REFIT_POLICY_CLEANUP", "1"),
        ("REFIT_POLICY_SCOPE", "edge"),
        ("REFIT_POLICY_STOP_TIMEOUT", "2m"),
        ("REFIT_HEALTH_WAIT", "3"),
        ("REFIT_HEALTH_TIMEOUT", "90s"),
        ("REFIT_HEALTH_ROLLBACK", "false"),
        (
            "REFIT_TRUST_ALLOWED_REGISTRIES",
            "ghcr.io, docker.io 127.0.0.1:5000,",
        ),
        ("REFIT_STATE_PATH", " /data/state.db "),
        ("REFIT_LOG_FORMAT", "json"),
        ("REFIT_LOG_LEVEL", "error"),
        ("REFIT_NOTIFY_URLS", "gotify://g.example.com/s3cr3t"),
        ("REFIT_API_LISTEN", ":8080"),
        ("REFIT_API_TOKEN", "s3cr3t"),
        ("REFIT_API_METRICS_PUBLIC", "true"),
    ])
    .unwrap();
    let printed = config.to_toml_redacted();
    let expected = r#"[docker]
host = "tcp://h:2376"
tls_ca = "/c/ca.pem"
tls_cert = "/c/cert.pem"
tls_key = "/c/key.pem"

[schedule]
cron = "0 0 4 * * *"
interval = "24h"
timezone = "Europe/Berlin"
update_on_start = true
run_once = true

[policy]
selection = "all"
update = "semver-patch"
monitor_only = true
include_stopped = true
cleanup = true
scope = "edge"
min_age = "1h 30m"
stop_timeout = "2m"

[health]
wait = "3s"
timeout = "1m 30s"
rollback = false

[registries]

[trust]
allowed_registries = ["ghcr.io", "docker.io", "127.0.0.1:5000"]

[notify]
urls = ["gotify://g.example.com/***"]

[api]
listen = "0.0.0.0:8080"
token = "***"
token_file = ""
metrics_public = true

[state]
path = "/data/state.db"

[log]
format = "json"
level = "error"
"#;
    assert_eq!(printed, expected);
    // Without a cron expression, the interval is the schedule.
    let config = from_env(&[("REFIT_SCHEDULE_INTERVAL", "3600")]).unwrap();
    assert!(
        config
            .to_toml_redacted()
            .contains("cron = \"\"\ninterval = \"1h\"\n")
    );
}

#[test]
fn booleans_and_empty_variables() {
    for (value, expected) in [
        ("true", true),
        ("FALSE", false),
        ("1", true),
        ("0", false),
        ("yes", true),
        ("No", false),
    ] {
        let config = from_env(&[("REFIT_POLICY_CLEANUP", value)]).unwrap();
        assert_eq!(config.policy.cleanup, expected, "{value}");
    }
    // `VAR=` counts as unset: the file's value stays.
    let config = load_text(
        "[policy]\ncleanup = true\n",
        &env(&[("REFIT_POLICY_CLEANUP", ""), ("WATCHTOWER_CLEANUP", " ")]),
        &Overrides::default(),
    );
    assert!(config.unwrap().policy.cleanup);
}

#[test]
fn docker_tls_verify_fills_empty_tls_keys_from_the_cert_path() {
    let tls = |vars: &[(&str, &str)], file: &str| {
        load_text(file, &env(vars), &Overrides::default())
            .unwrap()
            .docker
            .tls
    };
    let paths = |ca: &str, cert: &str, key: &str| {
        Some(TlsPaths {
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
        })
    };
    let verify = [("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/certs")];
    assert_eq!(
        tls(&verify, ""),
        paths("/certs/ca.pem", "/certs/cert.pem", "/certs/key.pem")
    );
    assert_eq!(
        tls(&verify, "[docker]\ntls_ca = \"/mine/ca.pem\"\n"),
        paths("/mine/ca.pem", "/certs/cert.pem", "/certs/key.pem")
    );
    let home = [("DOCKER_TLS_VERIFY", "true"), ("HOME", "/home/op")];
    assert_eq!(
        tls(&home, ""),
        paths(
            "/home/op/.docker/ca.pem",
            "/home/op/.docker/cert.pem",
            "/home/op/.docker/key.pem"
        )
    );
    let overridden = [verify[0], verify[1], ("REFIT_DOCKER_TLS_KEY", "/k.pem")];
    assert_eq!(
        tls(&overridden, ""),
        paths("/certs/ca.pem", "/certs/cert.pem", "/k.pem")
    );
    assert_eq!(tls(&[("DOCKER_TLS_VERIFY", "0"), verify[1]], ""), None);
    assert_eq!(tls(&[verify[1]], ""), None);
}

#[test]
fn durations() {
    for (value, seconds) in [
        ("\"90s\"", 90),
        ("\"5m\"", 300),
        ("\"2h\"", 7200),
        ("\"1m 30s\"", 90),
        ("\"30\"", 30),
        ("30", 30),
        ("0", 0),
    ] {
        let config = parse(&format!("[policy]\nstop_timeout = {value}\n"));
        assert_eq!(
            config.policy.stop_timeout,
            Duration::from_secs(seconds),
            "{value}"
        );
    }
    let config = from_env(&[("REFIT_POLICY_STOP_TIMEOUT", "45")]).unwrap();
    assert_eq!(config.policy.stop_timeout, Duration::from_secs(45));
    let config = parse("[policy]\nstop_timeout = \"1500ms\"\n");
    assert_eq!(config.policy.stop_timeout, Duration::from_millis(1500));
    // It prints in a form that parses back.
    assert!(
        config
            .to_toml_redacted()
            .contains("stop_timeout = \"1s 500ms\"")
    );
}

#[test]
fn variable_table_covers_every_key() {
    let printed = Config::default().to_toml_redacted();
    let table: toml::Table = toml::from_str(&printed).unwrap();
    for (section, keys) in &table {
        for key in keys.as_table().unwrap().keys() {
            let key = format!("{section}.{key}");
            let name = format!("REFIT_{}", key.replace('.', "_").to_uppercase());
            let var = VARIABLES.iter().find(|v| v.name == name);
            assert!(
                var.is_some_and(|v| v.key == key && !v.alias),
                "{name} for {key}"
            );
        }
    }
    for var in VARIABLES {
        assert_eq!(var.alias, !var.name.starts_with("REFIT_"), "{}", var.name);
        assert!(!var.description.is_empty(), "{}", var.name);
        let count = VARIABLES.iter().filter(|v| v.name == var.name).count();
        assert_eq!(count, 1, "{} listed twice", var.name);
        for key in var.key.split(", ") {
            let (section, name) = key.split_once('.').unwrap();
            assert!(
                table[section].as_table().unwrap().contains_key(name),
                "{key}"
            );
        }
    }
}
