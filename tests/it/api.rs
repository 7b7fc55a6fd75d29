//! The HTTP API of `refit run` against the real engine: the Bearer token (none, wrong, right),
//! `POST /v1/update` answering with the pass's report, `/v1/status` and `/v1/history`, the
//! metrics a pass produced as a Prometheus parser reads them, and a request during a
//! scheduled pass joining it rather than starting a second one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{
    ImageSpec, TestEnv, api_call, free_port, metric, parse_metrics, wait_for_api, wait_until,
};

const ENABLE: &str = "refit.enable=true";
const TOKEN: &str = "test-token-7f3a";
const BEARER: &str = "Bearer test-token-7f3a";

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn the_token_guards_the_api_and_an_update_answers_with_its_report_and_metrics() {
    let env = TestEnv::new("api_auth");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_CRON", "0 0 4 * * *")
        .env("REFIT_API_LISTEN", &addr)
        .env("WATCHTOWER_HTTP_API_TOKEN", TOKEN)
        .spawn();
    wait_for_api(&addr, Duration::from_secs(20));

    assert_eq!(api_call(&addr, "GET", "/healthz", None).0, 200);
    for auth in [None, Some("Bearer wrong-token"), Some(TOKEN)] {
        for (method, path) in [
            ("POST", "/v1/update"),
            ("GET", "/v1/status"),
            ("GET", "/metrics"),
        ] {
            let (status, body) = api_call(&addr, method, path, auth);
            assert_eq!(status, 401, "{method} {path} with {auth:?}: {body}");
        }
    }
    assert_eq!(env.inspect(&web.name)["Id"], web.id.as_str(), "no pass ran");

    let (status, body) = api_call(&addr, "POST", "/v1/update", Some(BEARER));
    assert_eq!(status, 200, "{body}");
    let report = json(&body);
    assert_eq!(report["pass"]["mode"], "update");
    let line = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == web.name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(line["outcome"], "updated", "{report}");
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
    let pass_id = report["pass"]["id"].as_str().unwrap().to_string();

    let (status, body) = api_call(&addr, "GET", "/v1/status", Some(BEARER));
    assert_eq!(status, 200, "{body}");
    let status = json(&body);
    assert_eq!(status["last_report"]["pass"]["id"], pass_id.as_str());
    assert_eq!(status["running"], false);
    assert!(
        status["next_pass"].as_str().unwrap().ends_with("04:00:00Z"),
        "{status}"
    );
    assert_eq!(status["pending_updates"], serde_json::json!([]));

    let (_, body) = api_call(&addr, "GET", "/v1/history", Some(BEARER));
    let history = json(&body);
    let passes = history["passes"].as_array().unwrap();
    assert_eq!(passes.len(), 1, "{history}");
    assert_eq!(passes[0]["id"], pass_id.as_str());
    assert_eq!(passes[0]["trigger"], "api");
    assert_eq!(passes[0]["updated"], 1);

    let (status, text) = api_call(&addr, "GET", "/metrics", Some(BEARER));
    assert_eq!(status, 200, "{text}");
    let samples = parse_metrics(&text);
    let value = |name, labels: &[(&str, &str)]| {
        metric(&samples, name, labels).unwrap_or_else(|| panic!("{name} {labels:?} in\n{text}"))
    };
    assert_eq!(value("refit_passes_total", &[]), 1.0);
    assert_eq!(
        value("refit_container_outcomes_total", &[("outcome", "updated")]),
        1.0
    );
    assert!(value("refit_containers_scanned", &[]) >= 1.0);
    assert_eq!(value("refit_update_duration_seconds_count", &[]), 1.0);
    let registry = env.registry();
    let ok = value(
        "refit_registry_requests_total",
        &[("registry", registry), ("result", "ok")],
    );
    assert!(ok >= 1.0, "{text}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = value("refit_last_pass_timestamp_seconds", &[]);
    assert!((now - 120.0..=now + 1.0).contains(&last), "{last} vs {now}");
    assert!(value("refit_next_pass_timestamp_seconds", &[]) > now);

    let run = daemon.stop(Duration::from_secs(10));
    run.assert_code(0);
    assert!(
        !run.stderr.contains(TOKEN),
        "the token is never logged\n{run}"
    );
    assert!(
        run.stderr.contains("api request without the right token"),
        "{run}"
    );
}

#[test]
fn requests_during_a_scheduled_pass_join_it_instead_of_starting_another() {
    let env = TestEnv::new("api_join");
    // PID 1 ignores SIGTERM, so stopping it takes its full stop timeout: the pass is slow.
    let spec = ImageSpec::new().cmd(&["sleep", "3600"]);
    let v1 = env.build_image("slow", "1", &spec.clone().payload("v1"));
    let slow = env.run(
        "slow",
        &["--label", ENABLE, "--stop-timeout", "4"],
        &v1.reference,
    );
    let v2 = env.push_new_version("slow", "1", &spec.payload("v2"));
    let addr = format!("127.0.0.1:{}", free_port());
    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_INTERVAL", "2s")
        .env("REFIT_API_LISTEN", &addr)
        .env("REFIT_API_TOKEN", TOKEN)
        .spawn();
    wait_for_api(&addr, Duration::from_secs(20));
    let parked = format!("{}.refit-old", slow.name);
    wait_until(
        "the scheduled pass to stop slow",
        Duration::from_secs(60),
        || {
            let stopping = env.container_exists(&parked)
                || env
                    .try_inspect(&slow.name)
                    .is_some_and(|c| c["State"]["Running"] == false);
            stopping.then_some(())
        },
    );
    let requests: Vec<_> = (0..2)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || api_call(&addr, "POST", "/v1/update", Some(BEARER)))
        })
        .collect();
    let ids: Vec<String> = requests
        .into_iter()
        .map(|r| {
            let (status, body) = r.join().unwrap();
            assert_eq!(status, 200, "{body}");
            json(&body)["pass"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids[0], ids[1], "both requests got the same pass");
    assert_eq!(env.inspect(&slow.name)["Image"], v2.id.as_str());

    let (_, body) = api_call(&addr, "GET", "/v1/history?limit=50", Some(BEARER));
    let history = json(&body);
    let joined: Vec<&Value> = history["passes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == ids[0].as_str())
        .collect();
    assert_eq!(joined.len(), 1, "{history}");
    assert_eq!(
        joined[0]["trigger"], "schedule",
        "the requests joined the tick's pass"
    );
    assert_eq!(joined[0]["updated"], 1);
    let run = daemon.stop(Duration::from_secs(30));
    run.assert_code(0);
    // Passes never overlap: each start follows the previous pass's end in the log.
    let (starts, ends) = (
        run.stderr.matches("pass starting").count(),
        run.stderr.matches("pass finished").count(),
    );
    assert!(
        starts == ends || starts == ends + 1,
        "{starts} starts, {ends} ends\n{run}"
    );
    let order: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| {
            if l.contains("pass starting") {
                Some("start")
            } else if l.contains("pass finished") || l.contains("pass failed") {
                Some("end")
            } else {
                None
            }
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] != w[1]),
        "a pass started before the last one ended: {order:?}\n{run}"
    );
}
