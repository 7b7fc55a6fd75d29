//! Notifications after real passes, each notifier against a catcher on loopback (an HTTP
//! server thread; an SMTP sink for `smtp://`): one message per pass naming every container
//! with news, announce-once in monitor-only mode across passes and restarts, and a notifier
//! that is down leaving the pass's outcome alone.

use std::time::Duration;

use serde_json::Value;

use crate::support::{HttpCatcher, ImageSpec, SmtpSink, TestEnv, free_port};

const ENABLE: &str = "refit.enable=true";
const WAIT: Duration = Duration::from_secs(20);

#[test]
fn every_notifier_gets_one_message_per_pass_naming_each_update() {
    let env = TestEnv::new("notify_all");
    let a1 = env.build_image("a", "1", &ImageSpec::new());
    let b1 = env.build_image("b", "1", &ImageSpec::new());
    let c1 = env.build_image("c", "1", &ImageSpec::new());
    let web = env.run("web", &["--label", ENABLE], &a1.reference);
    let api = env.run("api", &["--label", ENABLE], &b1.reference);
    let calm = env.run("calm", &["--label", ENABLE], &c1.reference);
    env.push_new_version("a", "1", &ImageSpec::new());
    env.push_new_version("b", "1", &ImageSpec::new());
    let http = HttpCatcher::start();
    let smtp = SmtpSink::start();
    let h = http.addr();
    let urls = [
        format!("generic+http://{h}/hook?key=k1"),
        format!("slack://refit@T0AAA/B0BBB/XyZ?host={h}&scheme=http"),
        format!("discord://d1sc0rd@4242?host={h}&scheme=http"),
        format!("ntfy://{h}/updates?scheme=http"),
        format!("gotify://{h}/g0tify?scheme=http"),
        format!(
            "smtp://{}/?from=refit@example.com&to=ops@example.com,oncall@example.com",
            smtp.addr()
        ),
    ];
    let run = env
        .refit_command(&["update", "--json"])
        .env("WATCHTOWER_NOTIFICATION_URL", &urls.join(" "))
        .timeout(Duration::from_secs(90))
        .run();
    run.assert_code(0);

    let caught = http.wait_for(5, WAIT);
    let by_path = |path: &str| {
        let matching: Vec<_> = caught.iter().filter(|c| c.path == path).collect();
        assert_eq!(matching.len(), 1, "one request to {path}: {caught:#?}");
        matching[0].clone()
    };
    let names = [web.name.as_str(), api.name.as_str()];

    let generic = by_path("/hook?key=k1");
    assert_eq!(generic.method, "POST");
    assert_eq!(generic.header("content-type"), Some("application/json"));
    let report: Value = serde_json::from_str(&generic.body).unwrap();
    assert_eq!(report["pass"]["mode"], "update");
    let mut listed: Vec<&str> = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["outcome"], "updated", "{c}");
            c["name"].as_str().unwrap()
        })
        .collect();
    listed.sort();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(listed, expected, "only the containers with news: {report}");
    assert!(!generic.body.contains(&calm.name), "{report}");

    let slack = by_path("/services/T0AAA/B0BBB/XyZ");
    let slack: Value = serde_json::from_str(&slack.body).unwrap();
    assert_eq!(slack["username"], "refit");
    let text = slack["text"].as_str().unwrap();
    assert!(text.starts_with("*refit: 2 updated*\n"), "{text}");

    let discord = by_path("/api/webhooks/4242/d1sc0rd");
    let discord: Value = serde_json::from_str(&discord.body).unwrap();
    let content = discord["content"].as_str().unwrap();

    let ntfy = by_path("/updates");
    assert_eq!(ntfy.header("title"), Some("refit: 2 updated"));

    let gotify = by_path("/message");
    assert_eq!(gotify.header("x-gotify-key"), Some("g0tify"));
    let gotify: Value = serde_json::from_str(&gotify.body).unwrap();
    assert_eq!(gotify["title"], "refit: 2 updated");

    let mails = smtp.wait_for(1, WAIT);
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert!(mail.from.contains("refit@example.com"), "{mail:?}");
    assert_eq!(mail.to.len(), 2, "{mail:?}");
    assert!(mail.data.contains("Subject: refit: 2 updated"), "{mail:?}");

    for body in [
        text,
        content,
        &ntfy.body,
        gotify["message"].as_str().unwrap(),
        &mail.data,
    ] {
        for name in names {
            assert!(
                body.contains(&format!("updated {name} (")),
                "{name} in {body}"
            );
        }
        assert!(!body.contains(&calm.name), "{body}");
    }
    assert_eq!(
        http.caught().len(),
        5,
        "one message per target, not per container"
    );
    // Tokens are never logged: only redacted targets.
    for secret in ["XyZ", "d1sc0rd", "g0tify"] {
        assert!(!run.stderr.contains(secret), "{secret} logged\n{run}");
    }
    assert_eq!(run.stderr.matches("notification sent").count(), 6, "{run}");
}

#[test]
fn monitor_only_announces_an_available_update_once_per_digest_across_restarts() {
    let env = TestEnv::new("notify_once");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    env.push_new_version("app", "1", &ImageSpec::new());
    let http = HttpCatcher::start();
    let url = format!("generic+http://{}/hook", http.addr());
    let available = |caught: &crate::support::Caught| -> String {
        let report: Value = serde_json::from_str(&caught.body).unwrap();
        let line = &report["containers"][0];
        assert_eq!(line["name"], web.name.as_str(), "{report}");
        assert_eq!(line["outcome"], "available", "{report}");
        line["available_digest"].as_str().unwrap().to_string()
    };

    // Two passes of one daemon: the first announces, the second has nothing new.
    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_INTERVAL", "1s")
        .env("WATCHTOWER_MONITOR_ONLY", "true")
        .env("REFIT_NOTIFY_URLS", &url)
        .spawn();
    http.wait_for(1, Duration::from_secs(60));
    // Two more ticks of the 1 s interval.
    std::thread::sleep(Duration::from_millis(2500));
    let run = daemon.stop(Duration::from_secs(20));
    run.assert_code(0);
    assert!(run.stderr.matches("pass finished").count() >= 2, "{run}");
    let caught = http.caught();
    assert_eq!(caught.len(), 1, "announced once\n{run}");
    let first = available(&caught[0]);

    // A restart: the state database remembers the announcement.
    let monitor = || {
        env.refit_command(&["update"])
            .env("WATCHTOWER_MONITOR_ONLY", "true")
            .env("REFIT_NOTIFY_URLS", &url)
            .timeout(Duration::from_secs(60))
            .run()
    };
    monitor().assert_code(0);
    assert_eq!(
        http.caught().len(),
        1,
        "not announced again after a restart"
    );

    // A newer digest is news again.
    env.push_new_version("app", "1", &ImageSpec::new());
    monitor().assert_code(0);
    let caught = http.wait_for(2, WAIT);
    assert_eq!(caught.len(), 2);
    let second = available(&caught[1]);
    assert_ne!(first, second, "the newer digest is announced");
    assert_eq!(
        env.inspect(&web.name)["Id"],
        web.id.as_str(),
        "monitor-only changed nothing"
    );
}

#[test]
fn a_notifier_that_is_down_does_not_change_the_pass_outcome() {
    let env = TestEnv::new("notify_down");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());
    let http = HttpCatcher::start();
    let urls = format!(
        "generic+http://127.0.0.1:{}/down generic+http://{}/up",
        free_port(),
        http.addr()
    );
    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_NOTIFY_URLS", &urls)
        .timeout(Duration::from_secs(90))
        .run();
    run.assert_code(0);
    assert_eq!(run.container(&web.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
    assert_eq!(
        http.wait_for(1, WAIT).len(),
        1,
        "the other target still got it"
    );
    assert_eq!(
        run.stderr.matches("notification failed; retrying").count(),
        2,
        "{run}"
    );
    assert!(
        run.stderr.contains("notification failed; giving up"),
        "{run}"
    );
}
