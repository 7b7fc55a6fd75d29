//! What holds an update back against the real engine: `refit.min-age` (a cooling-off period
//! whose clock survives a restart, kept in the state database), maintenance windows (closed:
//! skipped with the next opening; open: applied; the default window), and scopes.

use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};

use crate::support::{ImageSpec, TestEnv};

const ENABLE: &str = "refit.enable=true";

#[test]
fn min_age_holds_a_new_digest_back_until_it_has_cooled_off() {
    let env = TestEnv::new("min_age");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run(
        "web",
        &["--label", ENABLE, "--label", "refit.min-age=6s"],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    // Each run is a new refit process: the first sighting must come from the state database.
    let first = env.refit(&["update", "--json"]);
    let seen_by = Instant::now();
    first.assert_code(0);
    let line = first.container(&web.name);
    assert_eq!(line["decision"], "skip", "{first}");
    assert_eq!(line["outcome"], "skipped");
    let reason = line["reason"].as_str().unwrap();
    assert!(reason.starts_with("cooling off until "), "{reason}");
    assert_eq!(line["available_digest"], v2.digest.as_str());
    assert_eq!(env.inspect(&web.name)["Id"], web.id.as_str(), "untouched");

    let check = env.refit(&["check", "--json"]);
    let reason_again = check.container(&web.name)["reason"].clone();
    assert_eq!(
        reason_again, reason,
        "a later pass keeps the first sighting's clock"
    );

    let ready = seen_by + Duration::from_secs(7);
    std::thread::sleep(ready.saturating_duration_since(Instant::now()));
    let later = env.refit(&["update", "--json"]);
    later.assert_code(0);
    assert_eq!(later.container(&web.name)["outcome"], "updated", "{later}");
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
}

/// `HH:MM` (UTC) `hours` from now.
fn hhmm_in(hours: u32) -> String {
    let now = Utc::now();
    format!("{:02}:{:02}", (now.hour() + hours) % 24, now.minute())
}

#[test]
fn a_closed_window_skips_with_its_next_opening_and_an_open_one_applies() {
    let env = TestEnv::new("windows");
    // "later" opens two hours from now for one hour, so it is closed now whatever the time.
    env.write_config(&format!(
        r#"
[[window]]
name = "later"
start = "{}"
end = "{}"
timezone = "UTC"
default = true

[[window]]
name = "always"
start = "00:00"
end = "00:00"
"#,
        hhmm_in(2),
        hhmm_in(3)
    ));
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let closed = env.run(
        "closed",
        &["--label", ENABLE, "--label", "refit.window=later"],
        &v1.reference,
    );
    let by_default = env.run("default", &["--label", ENABLE], &v1.reference);
    let open = env.run(
        "open",
        &["--label", ENABLE, "--label", "refit.window=always"],
        &v1.reference,
    );
    let anytime = env.run(
        "any",
        &["--label", ENABLE, "--label", "refit.window=any"],
        &v1.reference,
    );
    let unknown = env.run(
        "unknown",
        &["--label", ENABLE, "--label", "refit.window=weekends"],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    let check = env.refit(&["check", "--json"]);
    check.assert_code(0);
    assert_eq!(
        check.container(&closed.name)["decision"],
        "skip",
        "a check reports the window too\n{check}"
    );

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    for held in [&closed, &by_default] {
        let line = update.container(&held.name);
        assert_eq!(line["outcome"], "skipped", "{update}");
        let reason = line["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("outside window \"later\", next opens "),
            "{reason}"
        );
        let next = reason.rsplit(' ').next().unwrap();
        let next = chrono::DateTime::parse_from_rfc3339(next)
            .unwrap_or_else(|e| panic!("{next:?} is not RFC 3339: {e}"));
        let minutes = (next.with_timezone(&Utc) - Utc::now()).num_minutes();
        assert!(
            (100..=125).contains(&minutes),
            "opens in about 2 h: {reason}"
        );
        let after = env.inspect(&held.name);
        assert_eq!(after["Id"], held.id.as_str(), "nothing changed");
        assert_eq!(after["State"]["Running"], true);
    }
    for applied in [&open, &anytime] {
        assert_eq!(
            update.container(&applied.name)["outcome"],
            "updated",
            "{update}"
        );
        assert_eq!(env.inspect(&applied.name)["Image"], v2.id.as_str());
    }
    let line = update.container(&unknown.name);
    assert_eq!(line["outcome"], "skipped", "{update}");
    let reason = line["reason"].as_str().unwrap();
    assert!(
        reason.contains(&unknown.name)
            && reason.contains("refit.window")
            && reason.contains("weekends"),
        "names the container, the label and the value: {reason}"
    );
}

#[test]
fn two_scopes_stay_apart() {
    let env = TestEnv::new("scopes");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let (scope_a, scope_b) = (env.name("a"), env.name("b"));
    let label = |scope: &str| format!("refit.scope={scope}");
    let in_a = env.run(
        "in-a",
        &["--label", ENABLE, "--label", &label(&scope_a)],
        &v1.reference,
    );
    // Watchtower's scope label counts the same.
    let watchtower_b = format!("com.centurylinklabs.watchtower.scope={scope_b}");
    let in_b = env.run(
        "in-b",
        &["--label", ENABLE, "--label", &watchtower_b],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    let names = [in_a.name.as_str(), in_b.name.as_str()];
    let as_a = env
        .refit_command(&[&["update", "--json"][..], &names[..]].concat())
        .unscoped()
        .env("REFIT_POLICY_SCOPE", &scope_a)
        .run();
    as_a.assert_code(0);
    assert_eq!(as_a.container(&in_a.name)["outcome"], "updated", "{as_a}");
    let line = as_a.container(&in_b.name);
    assert_eq!(line["decision"], "skip", "{as_a}");
    assert!(
        line["reason"].as_str().unwrap().contains(&scope_b),
        "{as_a}"
    );
    assert_eq!(env.inspect(&in_a.name)["Image"], v2.id.as_str());
    assert_eq!(env.inspect(&in_b.name)["Id"], in_b.id.as_str(), "B's stays");

    let as_b = env
        .refit_command(&[&["update", "--json"][..], &names[..]].concat())
        .unscoped()
        .env("WATCHTOWER_SCOPE", &scope_b)
        .run();
    as_b.assert_code(0);
    assert_eq!(as_b.container(&in_b.name)["outcome"], "updated", "{as_b}");
    assert_eq!(
        as_b.container(&in_a.name)["decision"],
        "skip",
        "A's is not B's\n{as_b}"
    );
    assert_eq!(env.inspect(&in_b.name)["Image"], v2.id.as_str());
}
