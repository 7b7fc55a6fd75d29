//! `refit update` against the real engine and registry: a digest update end to end, what it
//! leaves alone, the namespace sharer that must follow its peer, stopped containers, cleanup.

use crate::support::{ImageSpec, TestEnv, docker_ok};

const ENABLE: &str = "refit.enable=true";

fn ps_image(name: &str) -> String {
    docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Image}}",
    ])
    .trim()
    .to_string()
}

#[test]
fn a_labelled_container_moves_to_the_new_digest_and_a_second_pass_is_a_no_op() {
    let env = TestEnv::new("digest_update");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));

    let check = env.refit(&["check", "--json"]);
    check.assert_code(0);
    let planned = check.container(&web.name);
    assert_eq!(planned["decision"], "update", "{check}");
    assert_eq!(planned["current_digest"], v1.digest.as_str());
    assert_eq!(planned["available_digest"], v2.digest.as_str());
    assert_eq!(
        env.inspect(&web.name)["Id"],
        web.id.as_str(),
        "a check changes nothing"
    );

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    let done = update.container(&web.name);
    assert_eq!(done["outcome"], "updated", "{update}");
    assert_eq!(done["reason"], "");
    let after = env.inspect(&web.name);
    assert_ne!(
        after["Id"],
        web.id.as_str(),
        "a new container under the same name"
    );
    assert_eq!(after["Image"], v2.id.as_str(), "it runs the pushed image");
    assert_eq!(after["State"]["Running"], true);
    assert_eq!(
        after["Config"]["Image"],
        v1.reference.as_str(),
        "Config.Image keeps the human tag"
    );
    assert_eq!(
        ps_image(&web.name),
        v1.reference,
        "docker ps still shows the tag"
    );
    assert!(
        !env.container_exists(&format!("{}.refit-old", web.name)),
        "the old container is gone"
    );
    assert_eq!(
        env.image_inspect(&v1.reference)["Id"],
        v2.id.as_str(),
        "the tag moved, as docker pull moves it"
    );

    let again = env.refit(&["update", "--json"]);
    again.assert_code(0);
    assert_eq!(
        again.container(&web.name)["outcome"],
        "up-to-date",
        "{again}"
    );
    assert_eq!(
        env.inspect(&web.name)["Id"],
        after["Id"],
        "the second pass recreated nothing"
    );
}

#[test]
fn unlabelled_containers_are_left_alone() {
    let env = TestEnv::new("unlabelled");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let plain = env.run("plain", &[], &v1.reference);
    let opted_out = env.run("out", &["--label", "refit.enable=false"], &v1.reference);
    env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    for (container, reason) in [
        (&plain, "not selected: no refit.enable=true label"),
        (&opted_out, "not selected: labelled refit.enable=false"),
    ] {
        let line = run.container(&container.name);
        assert_eq!(line["decision"], "skip", "{run}");
        assert_eq!(line["outcome"], "skipped");
        assert_eq!(line["reason"], reason);
        assert_eq!(
            line["available_digest"],
            serde_json::Value::Null,
            "no registry request for it"
        );
        let now = env.inspect(&container.name);
        assert_eq!(now["Id"], container.id.as_str());
        assert_eq!(now["Image"], v1.id.as_str());
    }
}

#[test]
fn a_namespace_sharer_follows_its_peer() {
    let env = TestEnv::new("sharer");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let side = env.build_image("side", "1", &ImageSpec::new().payload("side"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let sidecar = env.run(
        "sidecar",
        &["--network", &format!("container:{}", web.name)],
        &side.reference,
    );
    env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.container(&web.name)["outcome"], "updated", "{run}");
    let new_web = env.inspect(&web.name);
    let now = env.inspect(&sidecar.name);
    assert_eq!(
        now["State"]["Running"], true,
        "the sidecar runs after its peer's update"
    );
    assert_eq!(
        now["HostConfig"]["NetworkMode"].as_str().unwrap(),
        format!("container:{}", new_web["Id"].as_str().unwrap()),
        "and shares the new peer's namespace"
    );
    assert_eq!(
        now["Image"],
        side.id.as_str(),
        "on its own, unchanged image"
    );
    assert_eq!(now["Config"]["Image"], side.reference.as_str());
    // One namespace: the sidecar sees the peer's hostname file and its interfaces.
    let peer_host = env.exec(&web.name, &["hostname"]);
    assert_eq!(env.exec(&sidecar.name, &["hostname"]), peer_host);
    assert!(!env.container_exists(&format!("{}.refit-old", sidecar.name)));
}

#[test]
fn a_stopped_container_is_updated_only_with_include_stopped_and_stays_stopped() {
    let env = TestEnv::new("stopped");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let idle = env.create("idle", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));

    let ignored = env.refit(&["update", "--json"]);
    ignored.assert_code(0);
    assert!(
        ignored.json()["containers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != idle.name.as_str())
    );
    assert_eq!(env.inspect(&idle.name)["Id"], idle.id.as_str());

    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_POLICY_INCLUDE_STOPPED", "true")
        .run();
    run.assert_code(0);
    assert_eq!(run.container(&idle.name)["outcome"], "updated", "{run}");
    let now = env.inspect(&idle.name);
    assert_eq!(now["Image"], v2.id.as_str());
    assert_eq!(
        now["State"]["Status"], "created",
        "an updated stopped container stays stopped"
    );
}

#[test]
fn cleanup_removes_the_old_image_when_nothing_uses_it() {
    let env = TestEnv::new("cleanup");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let keep = env.build_image("keep", "1", &ImageSpec::new().payload("keep"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let other = env.run("other", &["--label", ENABLE], &keep.reference);
    docker_ok(&[
        "tag",
        &keep.reference,
        &format!("{}:alias", keep.repository),
    ]);
    env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));
    env.push_new_version("keep", "1", &ImageSpec::new().payload("keep2"));

    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_POLICY_CLEANUP", "true")
        .run();
    run.assert_code(0);
    assert_eq!(run.container(&web.name)["outcome"], "updated", "{run}");
    assert_eq!(run.container(&other.name)["outcome"], "updated", "{run}");
    assert!(
        !env.image_exists(&v1.id),
        "the untagged, unused old image is removed"
    );
    assert!(
        env.image_exists(&keep.id),
        "an old image still tagged elsewhere is kept"
    );
}

#[test]
fn anonymous_volume_data_survives_the_update() {
    let env = TestEnv::new("anon_volume");
    let spec = ImageSpec::new().volume("/data");
    let v1 = env.build_image("app", "1", &spec.clone().payload("v1"));
    let web = env.run("web", &["--label", ENABLE, "-v", "/extra"], &v1.reference);
    env.exec(
        &web.name,
        &[
            "sh",
            "-c",
            "echo kept > /data/file && echo also > /extra/file",
        ],
    );
    let volumes_before = mounted_volumes(&env.inspect(&web.name));
    env.push_new_version("app", "1", &spec.payload("v2"));

    env.refit(&["update", "--json"]).assert_code(0);
    let after = env.inspect(&web.name);
    assert_ne!(after["Id"], web.id.as_str());
    assert_eq!(
        mounted_volumes(&after),
        volumes_before,
        "the same volumes, not fresh ones"
    );
    assert_eq!(
        env.exec(&web.name, &["cat", "/data/file", "/extra/file"]),
        "kept\nalso\n"
    );
}

/// `(destination, volume name)` of every volume mount, sorted.
fn mounted_volumes(inspect: &serde_json::Value) -> Vec<(String, String)> {
    let mut mounts: Vec<(String, String)> = inspect["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["Type"] == "volume")
        .map(|m| {
            (
                m["Destination"].as_str().unwrap().to_string(),
                m["Name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    mounts.sort();
    mounts
}

#[test]
fn sigterm_during_an_update_finishes_the_container_in_hand_and_starts_no_other() {
    let env = TestEnv::new("sigterm");
    // PID 1 ignores SIGTERM here, so each stop takes the full stop timeout: a window to signal in.
    let slow = ImageSpec::new().cmd(&["sleep", "3600"]);
    let v1 = env.build_image("app", "1", &slow.clone().payload("v1"));
    let names: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            env.run(
                n,
                &["--label", ENABLE, "--stop-timeout", "3"],
                &v1.reference,
            )
            .name
        })
        .collect();
    let ids: Vec<String> = names
        .iter()
        .map(|n| env.inspect(n)["Id"].as_str().unwrap().to_string())
        .collect();
    env.push_new_version("app", "1", &slow.payload("v2"));

    let process = env.refit_command(&["update", "--json"]).spawn();
    crate::support::wait_until(
        "the first container to be stopping",
        std::time::Duration::from_secs(30),
        || {
            env.container_exists(&format!("{}.refit-old", names[0]))
                .then_some(())
                .or_else(|| {
                    let now = env.try_inspect(&names[0])?;
                    (now["State"]["Running"] == false).then_some(())
                })
        },
    );
    let run = process.stop(std::time::Duration::from_secs(30));
    run.assert_code(0);
    assert_eq!(
        run.container(&names[0])["outcome"],
        "updated",
        "the container in hand is finished\n{run}"
    );
    for (name, id) in names.iter().zip(&ids).skip(1) {
        let line = run.container(name);
        assert_eq!(line["outcome"], "skipped", "{run}");
        assert_eq!(line["reason"], "not started: refit is shutting down");
        let now = env.inspect(name);
        assert_eq!(now["Id"], id.as_str(), "untouched");
        assert_eq!(now["State"]["Running"], true);
    }
    for name in &names {
        assert!(
            !env.container_exists(&format!("{name}.refit-old")),
            "nothing left parked"
        );
        assert_eq!(env.inspect(name)["State"]["Running"], true);
    }
}
