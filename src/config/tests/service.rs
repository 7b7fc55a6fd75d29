//! Tests of `[api]` and `[notify]`: inline secrets redacted and refused back, the token rule,
//! the variables and their Watchtower aliases.

use super::*;

#[test]
fn secrets_written_inline_print_redacted_and_are_refused_back() {
    let text = "[api]\nlisten = \":8080\"\ntoken = \"t0ken-s3cr3t\"\n\
                [notify]\nurls = [\"discord://s3cr3t@123\", \"ntfy://ntfy.example.com/s3cr3t\"]\n";
    let config = parse(text);
    assert_eq!(config.api.token.as_ref().unwrap().expose(), "t0ken-s3cr3t");
    assert_eq!(config.api.listen, Some("0.0.0.0:8080".parse().unwrap()));
    let printed = config.to_toml_redacted();
    let debug = format!("{config:?}");
    for output in [&printed, &debug] {
        assert!(!output.contains("s3cr3t"), "{output}");
    }
    assert!(printed.contains("token = \"***\""), "{printed}");
    assert!(printed.contains("\"discord://***\""), "{printed}");
    assert!(
        printed.contains("\"ntfy://ntfy.example.com/***\""),
        "{printed}"
    );
    // The printed form is not taken for a real token or URL.
    let error = file_error(&printed);
    assert!(error.contains("***"), "{error}");
}

#[test]
fn an_api_needs_a_token_unless_it_serves_only_public_metrics() {
    let error = file_error("[api]\nlisten = \"127.0.0.1:8080\"\n");
    assert!(error.starts_with("/etc/refit/refit.toml:2:10: "), "{error}");
    assert!(error.contains("needs token or token_file"), "{error}");
    let metrics_only = parse("[api]\nlisten = \"127.0.0.1:8080\"\nmetrics_public = true\n");
    assert!(metrics_only.api.token.is_none());
    let both = file_error("[api]\ntoken = \"a\"\ntoken_file = \"/t\"\n");
    assert!(both.contains("both set"), "{both}");
    assert!(file_error("[api]\nlisten = \"nowhere\"\n").contains("not ip:port"));
    assert!(file_error("[notify]\nurls = [\"irc://x\"]\n").contains("unsupported"));
}

#[test]
fn api_and_notify_variables_and_their_watchtower_aliases() {
    let config = from_env(&[
        ("WATCHTOWER_HTTP_API_TOKEN", "wt-token"),
        ("WATCHTOWER_HTTP_API_UPDATE", "true"),
        (
            "WATCHTOWER_NOTIFICATION_URL",
            "slack://a/b/c  generic+http://127.0.0.1:9/x",
        ),
    ])
    .unwrap();
    assert_eq!(config.api.token.unwrap().expose(), "wt-token");
    assert_eq!(config.api.listen, Some("0.0.0.0:8080".parse().unwrap()));
    assert_eq!(config.notify.urls.len(), 2);
    let config = from_env(&[
        ("WATCHTOWER_HTTP_API_TOKEN", "wt-token"),
        ("REFIT_API_TOKEN", "refit-token"),
        ("REFIT_API_LISTEN", "localhost:9090"),
        ("REFIT_API_METRICS_PUBLIC", "yes"),
        ("REFIT_NOTIFY_URLS", "ntfy://n.example.com/t"),
    ])
    .unwrap();
    assert_eq!(config.api.token.unwrap().expose(), "refit-token");
    assert_eq!(config.api.listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert!(config.api.metrics_public);
    assert_eq!(config.notify.urls[0].redacted(), "ntfy://n.example.com/***");
}
