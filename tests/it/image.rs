//! refit deployed as users deploy it: the Dockerfile's runtime stage (a static binary FROM
//! scratch, which scripts/test.sh builds as `refit:test` with scripts/build-image.sh), run with
//! the socket mounted. It updates a labelled neighbour, then itself, and ends as exactly one
//! refit container, on the new image, with its original configuration.

use std::time::Duration;

use crate::support::{ImageSpec, TestEnv, wait_until};

const ENABLE: &str = "refit.enable=true";

/// The image scripts/test.sh builds; `REFIT_TEST_IMAGE` names another.
fn refit_image() -> String {
    std::env::var("REFIT_TEST_IMAGE").unwrap_or_else(|_| "refit:test".to_owned())
}

#[test]
fn refit_in_its_container_updates_a_neighbour_then_itself() {
    let env = TestEnv::new("image_self_update");
    let local = refit_image();
    assert!(
        env.image_exists(&local),
        "no image {local}: scripts/test.sh builds it (scripts/build-image.sh {local})"
    );
    let refit_v1 = env.push_local_image(&local, "refit", "1");
    let app_v1 = env.build_image("app", "1", &ImageSpec::new());
    let neighbour = env.run("web", &["--label", ENABLE], &app_v1.reference);
    // Both new versions are out before refit starts: its first pass (update_on_start) finds them.
    let app_v2 = env.push_new_version("app", "1", &ImageSpec::new());
    let refit_v2 = env.push_relabelled(&refit_v1, "refit.test.generation=2");
    let state = env.create_volume("state");
    let scope = format!("REFIT_POLICY_SCOPE={}", env.prefix());
    let socket = "/var/run/docker.sock:/var/run/docker.sock";
    let volume = format!("{state}:/var/lib/refit");
    // Host networking: the test registry listens on the host's loopback.
    let refit = env.run(
        "refit",
        &[
            "--label",
            ENABLE,
            "--network",
            "host",
            "-v",
            socket,
            "-v",
            &volume,
            "-e",
            &scope,
            "-e",
            "REFIT_SCHEDULE_UPDATE_ON_START=true",
            "-e",
            "REFIT_SCHEDULE_INTERVAL=1h",
            "-e",
            "REFIT_HEALTH_WAIT=2s",
            "-e",
            "OPERATOR_SETTING=kept",
        ],
        &refit_v1.reference,
    );

    let parked = format!("{}.refit-old", refit.name);
    wait_until(
        "refit to update its neighbour and itself",
        Duration::from_secs(120),
        || {
            let now = env.try_inspect(&refit.name)?;
            let done = now["Image"] == refit_v2.id.as_str()
                && now["State"]["Running"] == true
                && !env.container_exists(&parked);
            done.then_some(())
        },
    );
    let logs = docker_logs(&refit.name);

    let after = env.inspect(&neighbour.name);
    assert_eq!(
        after["Image"],
        app_v2.id.as_str(),
        "the neighbour first\n{logs}"
    );
    assert_eq!(after["State"]["Running"], true);

    let successor = env.inspect(&refit.name);
    assert_ne!(successor["Id"], refit.id.as_str(), "a new container");
    let refits: Vec<String> = env
        .containers()
        .into_iter()
        .filter(|n| n.starts_with(&refit.name))
        .collect();
    assert_eq!(
        refits,
        vec![refit.name.clone()],
        "exactly one refit\n{logs}"
    );
    let config = &successor["Config"];
    let env_list: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for kept in [
        scope.as_str(),
        "REFIT_HEALTH_WAIT=2s",
        "OPERATOR_SETTING=kept",
    ] {
        assert!(env_list.contains(&kept), "{kept} kept: {env_list:?}");
    }
    assert_eq!(config["Image"], refit_v1.reference.as_str(), "same tag");
    assert_eq!(config["Labels"]["refit.enable"], "true");
    assert_eq!(successor["HostConfig"]["NetworkMode"], "host");
    let binds: Vec<&str> = successor["HostConfig"]["Binds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(binds.contains(&socket), "{binds:?}");
    assert!(binds.contains(&volume.as_str()), "{binds:?}");
    assert!(
        logs.contains("took over from the previous refit"),
        "the successor removed its predecessor\n{logs}"
    );
}

fn docker_logs(name: &str) -> String {
    let out = crate::support::docker(&["logs", name]);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
