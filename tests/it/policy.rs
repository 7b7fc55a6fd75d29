//! Policy labels against the real engine: lifecycle hooks (a failing pre-update hook leaves
//! the container untouched), `refit.pull=false`, `refit.update=none`, `refit.stop-signal`.

use crate::support::{ImageSpec, TestEnv, docker_ok};

const ENABLE: &str = "refit.enable=true";

#[test]
fn a_failing_pre_update_hook_leaves_the_container_untouched() {
    let env = TestEnv::new("pre_update_hook_fails");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let failing = env.run(
        "failing",
        &[
            "--label",
            ENABLE,
            "--label",
            "refit.hook.pre-update=echo not now; exit 3",
        ],
        &v1.reference,
    );
    let tempfail = env.run(
        "tempfail",
        &[
            "--label",
            ENABLE,
            "--label",
            "com.centurylinklabs.watchtower.lifecycle.pre-update=exit 75",
        ],
        &v1.reference,
    );
    let hooked = env.run(
        "hooked",
        &[
            "--label",
            ENABLE,
            "--label",
            "refit.hook.pre-update=touch /tmp/pre-ran",
            "--label",
            "refit.hook.post-update=hostname > /tmp/post-ran",
        ],
        &v1.reference,
    );
    let started = |name: &str| env.inspect(name)["State"]["StartedAt"].clone();
    let started_before = [started(&failing.name), started(&tempfail.name)];
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    let update = env.refit(&["update", "--json"]);
    update.assert_code(1);
    let report = update.container(&failing.name);
    assert_eq!(report["outcome"], "failed", "{update}");
    assert_eq!(report["reason"], "pre-update hook exited 3: not now");
    let report = update.container(&tempfail.name);
    assert_eq!(report["outcome"], "skipped", "{update}");
    assert_eq!(
        report["reason"],
        "pre-update hook asked to skip the update (exit 75)"
    );
    for (untouched, started_before) in [&failing, &tempfail].into_iter().zip(started_before) {
        let after = env.inspect(&untouched.name);
        assert_eq!(after["Id"], untouched.id.as_str(), "the same container");
        assert_eq!(after["Image"], v1.id.as_str(), "on its old image");
        assert_eq!(after["State"]["Running"], true);
        assert_eq!(after["RestartCount"], 0);
        assert_eq!(after["State"]["StartedAt"], started_before, "never stopped");
    }

    let report = update.container(&hooked.name);
    assert_eq!(report["outcome"], "updated", "{update}");
    let after = env.inspect(&hooked.name);
    assert_eq!(after["Image"], v2.id.as_str());
    // post-update ran in the successor (its hostname is the new short id); pre-update ran
    // in the predecessor, whose files went with it.
    let new_id = after["Id"].as_str().unwrap();
    assert_eq!(
        env.exec(&hooked.name, &["cat", "/tmp/post-ran"]).trim(),
        &new_id[..12]
    );
    assert!(
        crate::support::docker(&["exec", &hooked.name, "test", "-e", "/tmp/pre-ran"])
            .status
            .code()
            == Some(1),
        "the pre-update file belongs to the old container"
    );
}

#[test]
fn pull_false_waits_for_someone_else_to_pull() {
    let env = TestEnv::new("pull_false");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run(
        "web",
        &["--label", ENABLE, "--label", "refit.pull=false"],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    let first = env.refit(&["update", "--json"]);
    first.assert_code(0);
    assert_eq!(
        first.container(&web.name)["outcome"],
        "up-to-date",
        "{first}"
    );
    assert_eq!(env.inspect(&web.name)["Id"], web.id.as_str());
    assert_ne!(
        env.image_inspect(&v1.reference)["Id"],
        v2.id.as_str(),
        "refit pulled nothing"
    );

    docker_ok(&["pull", "-q", &v1.reference]);
    let second = env.refit(&["update", "--json"]);
    second.assert_code(0);
    assert_eq!(
        second.container(&web.name)["outcome"],
        "updated",
        "{second}"
    );
    let after = env.inspect(&web.name);
    assert_eq!(after["Image"], v2.id.as_str(), "it runs what was pulled");
    assert_eq!(after["State"]["Running"], true);
}

#[test]
fn update_none_reports_and_never_acts() {
    let env = TestEnv::new("update_none");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run(
        "web",
        &["--label", ENABLE, "--label", "refit.update=none"],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    let report = update.container(&web.name);
    assert_eq!(report["decision"], "skip", "{update}");
    assert_eq!(
        report["reason"],
        "refit.update is none: refit never updates this container"
    );
    assert_eq!(report["available_digest"], v2.digest.as_str());
    assert_eq!(env.inspect(&web.name)["Id"], web.id.as_str());
}

#[test]
fn a_stop_signal_label_stops_the_old_container_with_that_signal() {
    let env = TestEnv::new("stop_signal");
    // PID 1 is a shell that exits on SIGINT only (and leaves a note in a named volume); SIGTERM,
    // Docker's default, would make this stop wait out the whole 60 s stop timeout.
    let script = "trap 'echo got-int > /data/signal; exit 0' INT; \
                  while true; do sleep 0.2; done";
    let spec = ImageSpec::new().cmd(&["sh", "-c", script]);
    let v1 = env.build_image("app", "1", &spec);
    let data = env.create_volume("data");
    let mount = format!("{data}:/data");
    let web = env.run(
        "web",
        &[
            "--label",
            ENABLE,
            "--label",
            "refit.stop-signal=SIGINT",
            "--stop-timeout",
            "60",
            "-v",
            &mount,
        ],
        &v1.reference,
    );
    let v2 = env.push_new_version("app", "1", &spec);
    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    assert_eq!(
        update.container(&web.name)["outcome"],
        "updated",
        "{update}"
    );
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
    assert_eq!(
        env.exec(&web.name, &["cat", "/data/signal"]).trim(),
        "got-int",
        "the old container got SIGINT (under SIGTERM it would have been killed, writing nothing)"
    );
}
