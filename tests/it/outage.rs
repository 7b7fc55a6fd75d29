//! Outages in the middle of a pass: the engine becomes unreachable after the stop (a proxy in
//! front of the shared engine's socket is cut; the real engine is never restarted) and a
//! registry drops blob requests mid-pull. Clear errors, no crash, nothing lost, and the next
//! pass recovers.

use std::time::Duration;

use crate::support::{ImageSpec, Proxy, TestEnv, Upstream, wait_until};

const ENABLE: &str = "refit.enable=true";

#[test]
fn an_engine_gone_mid_update_gives_clear_errors_and_the_next_pass_recovers() {
    let env = TestEnv::new("engine_gone");
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let web = env.run(
        "web",
        &[
            "--label",
            ENABLE,
            "--restart",
            "unless-stopped",
            "--stop-timeout",
            "2",
        ],
        &v1.reference,
    );
    env.exec(&web.name, &["sh", "-c", "echo kept > /data/file"]);
    let v2 = env.push_new_version("app", "1", &spec.payload("v2"));
    let proxy = Proxy::start(Upstream::docker_socket());
    let host = format!("tcp://{}", proxy.addr());

    let process = env
        .refit_command(&["--docker-host", &host, "update", "--json"])
        .env("REFIT_TEST_PAUSE_AFTER", "stopped:3s")
        .spawn();
    wait_until("the stop", Duration::from_secs(60), || {
        (env.inspect(&web.name)["State"]["Running"] == false).then_some(())
    });
    proxy.cut();
    let run = process.wait(Duration::from_secs(60));
    run.assert_code(1);
    assert!(!run.stderr.contains("panicked"), "{run}");
    let reason = run.container(&web.name)["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains(&format!("cannot reach the Docker engine at {host}")),
        "{reason}"
    );

    let next = env.refit(&["update", "--json"]);
    next.assert_code(0);
    assert!(
        next.stderr.contains("interrupted update recovered"),
        "{next}"
    );
    assert_eq!(next.container(&web.name)["outcome"], "updated", "{next}");
    let now = env.inspect(&web.name);
    assert_eq!(now["Image"], v2.id.as_str());
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(now["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(env.containers(), vec![web.name.clone()], "no leftovers");
    assert_eq!(env.exec(&web.name, &["cat", "/data/file"]), "kept\n");
}

#[test]
fn a_registry_failing_mid_pull_leaves_the_container_untouched() {
    let env = TestEnv::new("registry_mid_pull");
    let proxy = Proxy::start(Upstream::Tcp(env.registry().to_string()));
    let v1 = env.build_image_on(proxy.addr(), "app", "1", &ImageSpec::new().payload("v1"));
    env.track_manifest(&v1.path, &v1.digest);
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version_on(proxy.addr(), "app", "1", &ImageSpec::new().payload("v2"));
    env.track_manifest(&v2.path, &v2.digest);
    proxy.drop_blobs();

    let run = env.refit(&["update", "--json"]);
    run.assert_code(1);
    let line = run.container(&web.name);
    assert_eq!(line["outcome"], "failed", "{run}");
    assert!(
        line["reason"].as_str().unwrap().starts_with("pull failed:"),
        "{run}"
    );
    let now = env.inspect(&web.name);
    assert_eq!(now["Id"], web.id.as_str(), "untouched");
    assert_eq!(now["State"]["Running"], true);
    assert_eq!(now["Image"], v1.id.as_str());
    assert_eq!(env.containers(), vec![web.name.clone()]);
    assert!(
        !env.image_exists(&v2.id),
        "nothing half-pulled is kept as the image"
    );
}
