//! `refit run`, the daemon, against the real engine: passes at each tick of a short interval,
//! and SIGTERM in the middle of an update exits 0 with the container running and nothing
//! left parked; `WATCHTOWER_RUN_ONCE` makes it one pass.

use std::time::Duration;

use crate::support::{ImageSpec, TestEnv, wait_until};

const ENABLE: &str = "refit.enable=true";

#[test]
fn run_passes_on_an_interval_and_sigterm_mid_update_exits_0_with_the_container_running() {
    let env = TestEnv::new("daemon_interval");
    let quick_v1 = env.build_image("quick", "1", &ImageSpec::new());
    let quick = env.run("quick", &["--label", ENABLE], &quick_v1.reference);
    // PID 1 ignores SIGTERM, so stopping it takes its full stop timeout: a window to signal in.
    let slow_spec = ImageSpec::new().cmd(&["sleep", "3600"]);
    let slow_v1 = env.build_image("slow", "1", &slow_spec.clone().payload("v1"));
    let slow = env.run(
        "slow",
        &["--label", ENABLE, "--stop-timeout", "4"],
        &slow_v1.reference,
    );
    let quick_v2 = env.push_new_version("quick", "1", &ImageSpec::new());

    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_INTERVAL", "2s")
        .spawn();
    wait_until("a pass to update quick", Duration::from_secs(60), || {
        let now = env.try_inspect(&quick.name)?;
        (now["Image"] == quick_v2.id.as_str()).then_some(())
    });
    assert_eq!(
        env.inspect(&slow.name)["Id"],
        slow.id.as_str(),
        "nothing new for slow yet"
    );

    // A later tick finds slow's new version; signal while it is being stopped.
    let slow_v2 = env.push_new_version("slow", "1", &slow_spec.payload("v2"));
    let parked = format!("{}.refit-old", slow.name);
    wait_until(
        "a pass to start stopping slow",
        Duration::from_secs(60),
        || {
            let stopping = env.container_exists(&parked)
                || env
                    .try_inspect(&slow.name)
                    .is_some_and(|c| c["State"]["Running"] == false);
            stopping.then_some(())
        },
    );
    let run = daemon.stop(Duration::from_secs(30));
    run.assert_code(0);

    let after = env.inspect(&slow.name);
    assert_eq!(after["State"]["Running"], true, "{run}");
    assert_eq!(
        after["Image"],
        slow_v2.id.as_str(),
        "the update in hand was finished\n{run}"
    );
    assert!(!env.container_exists(&parked), "nothing left parked\n{run}");
    assert_eq!(env.inspect(&quick.name)["State"]["Running"], true);
    let passes = run.stderr.matches("pass finished").count();
    assert!(passes >= 2, "at least two passes ran ({passes})\n{run}");
    assert!(run.stderr.contains("next pass scheduled"), "{run}");
    assert!(run.stderr.contains("refit daemon stopped"), "{run}");
}

#[test]
fn sigterm_while_idle_exits_0_at_once() {
    let env = TestEnv::new("daemon_idle");
    let daemon = env
        .refit_command(&["run"])
        .env("REFIT_SCHEDULE_CRON", "0 0 4 * * *")
        .spawn();
    std::thread::sleep(Duration::from_millis(500));
    let run = daemon.stop(Duration::from_secs(5));
    run.assert_code(0);
    assert!(run.stderr.contains("next pass scheduled"), "{run}");
    assert_eq!(run.stderr.matches("pass finished").count(), 0, "{run}");
}

#[test]
fn watchtower_run_once_makes_run_a_single_pass() {
    let env = TestEnv::new("daemon_run_once");
    let v1 = env.build_image("app", "1", &ImageSpec::new());
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new());
    let run = env
        .refit_command(&["run"])
        .env("WATCHTOWER_RUN_ONCE", "true")
        .timeout(Duration::from_secs(60))
        .run();
    run.assert_code(0);
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str(), "{run}");
    assert_eq!(run.stderr.matches("pass finished").count(), 1, "{run}");
}
