//! Tests of error messages: file positions, variables, flags and password files.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

use super::*;

#[test]
fn bad_variables_name_the_variable_and_value() {
    let cases = [
        (
            ("WATCHTOWER_CLEANUP", "maybe"),
            "environment variable WATCHTOWER_CLEANUP=`maybe`: expected a boolean \
             (true/false, 1/0, yes/no), got `maybe`",
        ),
        (
            ("REFIT_POLICY_SELECTION", "some"),
            "environment variable REFIT_POLICY_SELECTION=`some`: unknown selection `some`, \
             expected one of `opt-in`, `all`",
        ),
        (
            ("WATCHTOWER_TIMEOUT", "soon"),
            "environment variable WATCHTOWER_TIMEOUT=`soon`: invalid duration `soon`: \
             expected number at 0",
        ),
        (
            ("REFIT_LOG_LEVEL", "loud"),
            "environment variable REFIT_LOG_LEVEL=`loud`: unknown log level `loud`, \
             expected one of `error`, `warn`, `info`, `debug`, `trace`",
        ),
    ];
    for ((name, value), expected) in cases {
        let error = from_env(&[(name, value)]).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    let error = from_env(&[("DOCKER_HOST", "docker:2375")]).unwrap_err();
    assert!(
        error.to_string().starts_with(
            "environment variable DOCKER_HOST=`docker:2375`: unsupported docker host `docker:2375`"
        ),
        "{error}"
    );
}

#[test]
fn password_file_errors_name_registry_and_path_not_content() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("absent.pw");
    let text = |path: &Path| {
        format!(
            "[registries.\"ghcr.io\"]\nusername = \"u\"\npassword_file = \"{}\"\n",
            path.display()
        )
    };
    let error = load_text(&text(&missing), &no_env, &Overrides::default()).unwrap_err();
    assert!(
        matches!(error, ConfigError::PasswordFile { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read password_file {} of registry `ghcr.io`",
            missing.display()
        )
    );

    let empty = dir.path().join("empty.pw");
    fs::write(&empty, "\n").unwrap();
    let error = load_text(&text(&empty), &no_env, &Overrides::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "password_file {} of registry `ghcr.io` is empty",
            empty.display()
        )
    );
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let text = "[policy]\ncleanup = true\nscope = \"prod\n";
    // toml reports an unclosed string where the line ends.
    assert_eq!(
        file_error(text),
        "/etc/refit/refit.toml:3:14: invalid basic string, expected `\"`"
    );
    assert_eq!(
        file_error("[policy]\ncleanup = tru\n"),
        "/etc/refit/refit.toml:2:11: invalid boolean, expected `true`"
    );
    assert_eq!(
        file_error("[policy\nscope = \"x\"\n"),
        "/etc/refit/refit.toml:1:8: unclosed table, expected `]`"
    );

    let error = file_error("[log]\nlevel = \"info\"\nlevel = \"debug\"\n");
    assert_eq!(error, "/etc/refit/refit.toml:3:1: duplicate key `level`");
}

#[test]
fn unknown_key_names_file_line_and_column() {
    let text = concat!(
        "[docker]\n",
        "host = \"unix:///run/docker.sock\"\n",
        "\n",
        "[policy]\n",
        "cleanup = true\n",
        "      selektion = \"all\"\n",
    );
    assert_eq!(
        file_error(text),
        "/etc/refit/refit.toml:6:7: unknown field `selektion`, expected one of `selection`, \
         `update`, `monitor_only`, `include_stopped`, `cleanup`, `scope`, `min_age`, \
         `stop_timeout`"
    );
    assert_eq!(
        file_error("[schedul]\n"),
        "/etc/refit/refit.toml:1:2: unknown field `schedul`, expected one of `docker`, \
         `schedule`, `policy`, `health`, `window`, `registries`, `trust`, `notify`, `api`, `state`, `log`"
    );
    assert_eq!(
        file_error("[registries.\"ghcr.io\"]\nusername = \"u\"\npasword_file = \"/p\"\n"),
        "/etc/refit/refit.toml:3:1: unknown field `pasword_file`, expected one of `username`, \
         `password`, `password_file`, `ca_file`, `insecure`"
    );
}

#[test]
fn bad_values_name_file_line_and_column() {
    let cases = [
        (
            "[policy]\nselection = \"some\"\n",
            "2:13: unknown selection `some`, expected one of `opt-in`, `all`",
        ),
        (
            "[log]\nformat = \"json\"\nlevel = \"verbose\"\n",
            "3:9: unknown log level `verbose`, expected one of `error`, `warn`, `info`, \
             `debug`, `trace`",
        ),
        (
            "\n[policy]\nstop_timeout = \"10 parsecs\"\n",
            "3:16: invalid duration `10 parsecs`: unknown time unit \"parsecs\", supported \
             units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few \
             variations)",
        ),
        (
            "[policy]\nstop_timeout = -5\n",
            "2:16: duration -5 is negative",
        ),
        (
            "[policy]\nstop_timeout = 1.5\n",
            "2:16: invalid type: floating point `1.5`, expected a duration such as \"90s\", \
             \"5m\" or a number of seconds",
        ),
        (
            "[policy]\ncleanup = \"yes\"\n",
            "2:11: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "policy = 3\n",
            "1:10: invalid type: integer `3`, expected the [policy] table",
        ),
        (
            "[docker]\nhost = \"/var/run/docker.sock\"\n",
            "2:8: unsupported docker host `/var/run/docker.sock`, expected unix:///path or \
             tcp://host:port (schemes: unix, tcp, http, https, npipe)",
        ),
        (
            "[registries.\"https://ghcr.io\"]\n",
            "1:13: registry host `https://ghcr.io` has a scheme, write only the host (and port)",
        ),
        (
            "[trust]\nallowed_registries = [\"ghcr.io\", \"index.docker.io\"]\n",
            // toml places errors inside an array at the array.
            "2:22: registry host `index.docker.io` never matches, Docker Hub is written \
             `docker.io`",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(file_error(text), format!("{PATH}:{expected}"), "{text}");
    }
}

#[test]
fn values_wrong_together_name_file_line_and_column() {
    let cases = [
        (
            "[docker]\nhost = \"tcp://h:2376\"\ntls_cert = \"/c.pem\"\n",
            "3:12: tls_ca, tls_cert and tls_key are set together, but tls_ca and tls_key are \
             not set",
        ),
        (
            "[registries.\"ghcr.io\"]\nusername = \"robot\"\n",
            "2:12: username is set but password_file is not",
        ),
        (
            "[registries.\"ghcr.io\"]\npassword_file = \"/pw\"\n",
            "2:17: password_file is set but username is not",
        ),
        (
            "[registries.\"ghcr.io\"]\npassword = \"***\"\n",
            "2:12: password = \"***\" stands for the content of password_file, which is not set",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(file_error(text), format!("{PATH}:{expected}"), "{text}");
    }
    // The same rule with a value from the environment names the variable.
    let error = from_env(&[("REFIT_DOCKER_TLS_CA", "/ca.pem")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable REFIT_DOCKER_TLS_CA=`/ca.pem`: tls_ca, tls_cert and tls_key are \
         set together, but tls_cert and tls_key are not set"
    );
}

#[test]
fn inline_password_is_refused_without_repeating_it() {
    for value in ["\"hunter2\"", "12345", "true", "1.5"] {
        let error = file_error(&format!(
            "[registries.\"ghcr.io\"]\nusername = \"u\"\npassword = {value}\n"
        ));
        assert!(!error.contains(value.trim_matches('"')), "{error}");
        assert!(
            error.starts_with(&format!(
                "{PATH}:3:12: a password is not written in the configuration"
            )),
            "{error}"
        );
    }
}

#[test]
fn bad_flag_names_the_flag() {
    let flags = Overrides {
        docker_host: Some("localhost:2375".into()),
        ..Overrides::default()
    };
    let error = convert::load(None, &no_env, &flags).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("flag --docker-host `localhost:2375`: unsupported docker host"),
        "{error}"
    );
}
