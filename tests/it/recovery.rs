//! Crash recovery against the real engine: refit is killed (`kill -9`) after the stop, after
//! the rename, after the create and during the health wait (`REFIT_TEST_PAUSE_AFTER` holds it
//! at the step, test only); the next `refit update` recovers first and then updates, so the
//! container ends running, configuration and anonymous-volume data intact, nothing left over.

use std::time::Duration;

use crate::support::{Container, ImageSpec, PushedImage, TestEnv, docker, wait_until};

const ENABLE: &str = "refit.enable=true";

struct Fixture {
    env: TestEnv,
    web: Container,
    v2: PushedImage,
}

fn fixture(test: &str) -> Fixture {
    let env = TestEnv::new(test);
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let args = [
        "--label",
        ENABLE,
        "--restart",
        "unless-stopped",
        "-e",
        "OPERATOR=set",
        "--stop-timeout",
        "2",
    ];
    let web = env.run("web", &args, &v1.reference);
    env.exec(&web.name, &["sh", "-c", "echo kept > /data/file"]);
    let v2 = env.push_new_version("app", "1", &spec.payload("v2"));
    Fixture { env, web, v2 }
}

/// Kill the refit started with `vars` once `at` holds, then run `refit update` and check the
/// container is whole, on the new image (recovery undid the interrupted update, the pass
/// then applied it).
fn killed_then_recovered(f: &Fixture, vars: &[(&str, &str)], what: &str, at: impl Fn() -> bool) {
    let env = &f.env;
    let mut command = env.refit_command(&["update", "--json"]);
    for (key, value) in vars {
        command = command.env(key, value);
    }
    let process = command.spawn();
    wait_until(what, Duration::from_secs(60), || at().then_some(()));
    let killed = process.kill();
    assert!(killed.code().is_none(), "killed by the signal\n{killed}");

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    assert!(run.stderr.contains("interrupted update recovered"), "{run}");
    assert_eq!(run.container(&f.web.name)["outcome"], "updated", "{run}");
    let now = env.inspect(&f.web.name);
    assert_eq!(now["Image"], f.v2.id.as_str());
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(now["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    let container_env = now["Config"]["Env"].as_array().unwrap();
    assert!(container_env.iter().any(|e| e == "OPERATOR=set"), "{now}");
    assert_eq!(env.containers(), vec![f.web.name.clone()], "no leftovers");
    assert_eq!(env.exec(&f.web.name, &["cat", "/data/file"]), "kept\n");

    let history = env.refit(&["history", "--json"]).json();
    let reasons: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("recovery restored the old container")),
        "{reasons:?}"
    );
}

fn parked(f: &Fixture) -> String {
    format!("{}.refit-old", f.web.name)
}

/// The successor's `running` state: a container under the name that is not the old one.
/// Never panics: the name moves between containers while refit works.
fn successor(f: &Fixture) -> Option<bool> {
    let format = "{{.Id}} {{.State.Running}}";
    let output = docker(&["container", "inspect", "--format", format, &f.web.name]);
    let text = String::from_utf8_lossy(&output.stdout);
    let (id, running) = text.trim().split_once(' ')?;
    (output.status.success() && id != f.web.id).then(|| running == "true")
}

#[test]
fn killed_after_the_stop() {
    let f = fixture("killed_after_stop");
    killed_then_recovered(
        &f,
        &[("REFIT_TEST_PAUSE_AFTER", "stopped")],
        "the stop",
        || f.env.inspect(&f.web.name)["State"]["Running"] == false,
    );
}

#[test]
fn killed_after_the_rename() {
    let f = fixture("killed_after_rename");
    killed_then_recovered(
        &f,
        &[("REFIT_TEST_PAUSE_AFTER", "parked")],
        "the rename",
        || f.env.container_exists(&parked(&f)),
    );
}

#[test]
fn killed_after_the_create() {
    let f = fixture("killed_after_create");
    killed_then_recovered(
        &f,
        &[("REFIT_TEST_PAUSE_AFTER", "created")],
        "the create",
        || successor(&f).is_some(),
    );
}

#[test]
fn killed_during_the_health_wait() {
    let f = fixture("killed_in_health_wait");
    let vars = [("REFIT_HEALTH_WAIT", "60s")];
    killed_then_recovered(&f, &vars, "the successor to run", || {
        successor(&f) == Some(true)
    });
}
