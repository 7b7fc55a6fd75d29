//! The health gate against the real engine: a new image that exits at once or turns unhealthy
//! is rolled back (the old container runs again under its name, on its old image, with its
//! data), its digest is skipped by the next pass and a newer one is applied; the labels that
//! override the gate; `refit rollback` and `refit history`.

use serde_json::Value;

use crate::support::{Healthcheck, ImageSpec, TestEnv};

const ENABLE: &str = "refit.enable=true";

/// The old container is back: same id, running, on its image, its name, its restart policy,
/// its data, and nothing else of the test's left (no successor, no `.refit-old`).
fn assert_restored(env: &TestEnv, name: &str, id: &str, image: &str) {
    let now = env.inspect(name);
    assert_eq!(now["Id"], id, "the old container itself");
    assert_eq!(now["Image"], image);
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(now["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(env.containers(), vec![name.to_string()], "no leftovers");
    assert_eq!(env.exec(name, &["cat", "/data/file"]), "kept\n");
}

#[test]
fn a_new_image_that_exits_at_once_is_rolled_back_skipped_then_a_newer_one_applied() {
    let env = TestEnv::new("rollback_exits");
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let args = ["--label", ENABLE, "--restart", "unless-stopped"];
    let web = env.run("web", &args, &v1.reference);
    env.exec(&web.name, &["sh", "-c", "echo kept > /data/file"]);
    let bad = env.push_new_version("app", "1", &spec.clone().cmd(&["sh", "-c", "exit 3"]));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(1);
    let line = run.container(&web.name);
    assert_eq!(line["outcome"], "rolled-back", "{run}");
    let reason = line["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("rolled back: the new container exited"),
        "{reason}"
    );
    assert_restored(&env, &web.name, &web.id, &v1.id);
    assert_eq!(
        env.image_inspect(&v1.reference)["Id"],
        v1.id.as_str(),
        "the tag is back on the image that works"
    );

    let again = env.refit(&["update", "--json"]);
    again.assert_code(0);
    let line = again.container(&web.name);
    assert_eq!(line["decision"], "skip", "{again}");
    let reason = line["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "digest {}… was rolled back on ",
            &bad.digest[..19]
        )),
        "{reason}"
    );
    assert_eq!(env.inspect(&web.name)["Id"], web.id.as_str());

    let good = env.push_new_version("app", "1", &spec.payload("v3"));
    let third = env.refit(&["update", "--json"]);
    third.assert_code(0);
    assert_eq!(third.container(&web.name)["outcome"], "updated", "{third}");
    let now = env.inspect(&web.name);
    assert_eq!(now["Image"], good.id.as_str());
    assert_eq!(env.exec(&web.name, &["cat", "/data/file"]), "kept\n");

    let history = env.refit(&["history", "--json"]);
    history.assert_code(0);
    let outcomes: Vec<Value> = history
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        ["updated", "rolled-back"],
        "newest first\n{history}"
    );
}

#[test]
fn a_failing_healthcheck_is_rolled_back() {
    let env = TestEnv::new("rollback_unhealthy");
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let args = ["--label", ENABLE, "--restart", "unless-stopped"];
    let web = env.run("web", &args, &v1.reference);
    env.exec(&web.name, &["sh", "-c", "echo kept > /data/file"]);
    let probe = Healthcheck::shell("echo probe failed; exit 1")
        .interval("300ms")
        .retries(1);
    env.push_new_version("app", "1", &spec.healthcheck(probe));

    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_HEALTH_TIMEOUT", "30s")
        .run();
    run.assert_code(1);
    let line = run.container(&web.name);
    assert_eq!(line["outcome"], "rolled-back", "{run}");
    assert_eq!(
        line["reason"],
        "rolled back: the new container is unhealthy: probe failed"
    );
    assert_restored(&env, &web.name, &web.id, &v1.id);
}

#[test]
fn the_labels_override_the_gate_health_timeout_and_rollback() {
    let env = TestEnv::new("rollback_labels");
    let never = ImageSpec::new().healthcheck(
        Healthcheck::shell("exit 1")
            .interval("300ms")
            .start_period("60s"),
    );
    let a1 = env.build_image("slow", "1", &ImageSpec::new().payload("a1"));
    let b1 = env.build_image("kept", "1", &ImageSpec::new().payload("b1"));
    let slow = env.run(
        "slow",
        &["--label", ENABLE, "--label", "refit.health-timeout=2s"],
        &a1.reference,
    );
    let kept = env.run(
        "kept",
        &["--label", ENABLE, "--label", "refit.rollback=false"],
        &b1.reference,
    );
    env.push_new_version("slow", "1", &never);
    let b2 = env.push_new_version("kept", "1", &ImageSpec::new().cmd(&["sh", "-c", "exit 4"]));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(1);
    assert_eq!(
        run.container(&slow.name)["reason"],
        "rolled back: the new container was not healthy within 2s (health starting)",
        "{run}"
    );
    assert_eq!(env.inspect(&slow.name)["Id"], slow.id.as_str());
    let line = run.container(&kept.name);
    assert_eq!(line["outcome"], "failed", "{run}");
    assert_eq!(
        line["reason"],
        "the new container exited (exit code 4); rollback is off: the new container was kept"
    );
    let now = env.inspect(&kept.name);
    assert_eq!(now["Image"], b2.id.as_str(), "the new container stays");
    assert!(!env.container_exists(&format!("{}.refit-old", kept.name)));
}

#[test]
fn refit_rollback_returns_to_the_previous_image_and_the_next_pass_leaves_it() {
    let env = TestEnv::new("rollback_command");
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let args = ["--label", ENABLE, "--restart", "unless-stopped"];
    let web = env.run("web", &args, &v1.reference);
    env.exec(&web.name, &["sh", "-c", "echo kept > /data/file"]);
    let other = env.run("other", &["--label", ENABLE], &v1.reference);
    env.refit(&["rollback", &other.name]).assert_code(1);
    env.refit(&["rollback", "no-such-container"]).assert_code(2);

    let v2 = env.push_new_version("app", "1", &spec.payload("v2"));
    env.refit(&["update", &web.name]).assert_code(0);
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());

    let back = env.refit(&["rollback", &web.name]);
    back.assert_code(0);
    assert!(back.stdout.contains(&v1.digest), "{back}");
    let now = env.inspect(&web.name);
    assert_eq!(now["Image"], v1.id.as_str(), "{back}");
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(now["Config"]["Image"], v1.reference.as_str());
    assert_eq!(now["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(env.exec(&web.name, &["cat", "/data/file"]), "kept\n");

    let next = env.refit(&["update", "--json", &web.name]);
    next.assert_code(0);
    let line = next.container(&web.name);
    assert_eq!(line["decision"], "skip", "{next}");
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("rolled back by refit rollback"),
        "{next}"
    );
    let table = env.refit(&["history"]);
    table.assert_code(0);
    assert!(table.stdout.contains("updated (rollback)"), "{table}");
}
