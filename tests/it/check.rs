//! `refit check` through the real binary: what a check asks the registry (one manifest HEAD per
//! distinct reference, never a blob), the decisions it reports (JSON and table), how selection,
//! monitor-only, local and pinned images are decided, and that a check changes nothing.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use crate::support::{Container, CountingRegistry, ImageSpec, PushedImage, TestEnv, docker_ok};

/// `--label refit.enable=true`: containers are selected by opt-in by default.
const ENABLED: [&str; 2] = ["--label", "refit.enable=true"];

/// The first 12 hex digits of a `sha256:...` digest, as the table shows it.
fn short(digest: &str) -> &str {
    &digest.trim_start_matches("sha256:")[..12]
}

/// name → id of every container carrying the test's label.
fn container_ids(env: &TestEnv) -> BTreeMap<String, String> {
    env.containers()
        .into_iter()
        .map(|name| {
            let id = env.inspect(&name)["Id"].as_str().unwrap().to_owned();
            (name, id)
        })
        .collect()
}

/// Asserts one report entry's decision, showing the whole entry when it differs.
fn assert_decision(entry: &Value, decision: &str) {
    assert_eq!(entry["decision"], decision, "{entry:#}");
}

#[test]
fn fifty_containers_on_ten_images_cost_ten_manifest_heads_and_no_blob() {
    let started = Instant::now();
    let env = TestEnv::new("fifty_containers_on_ten_images");
    let registry = CountingRegistry::start();

    // 10 images, built and pushed in parallel.
    let images: Vec<PushedImage> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let env = &env;
                let registry = registry.addr();
                s.spawn(move || {
                    let spec = ImageSpec::new().payload(&format!("image {i}"));
                    env.build_image_on(registry, &format!("app{i}"), "1", &spec)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("10 images built and pushed after {:?}", started.elapsed());

    // 5 tiny containers per image, one thread per image.
    let containers: Vec<(usize, Container)> = std::thread::scope(|s| {
        let handles: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let env = &env;
                s.spawn(move || {
                    (0..5)
                        .map(|j| {
                            let args = [&ENABLED[..], &["--network", "none", "--memory", "16m"]];
                            let c = env.run(&format!("c{i}-{j}"), &args.concat(), &image.reference);
                            (i, c)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(containers.len(), 50);
    eprintln!("50 containers running after {:?}", started.elapsed());
    let ids_before = container_ids(&env);

    // First check: everything up to date.
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let counts = registry.counts();
    eprintln!("first check: {counts:?}");
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["pass"]["mode"], "check");
    // The report also lists other tests' containers (skipped: another scope); count ours.
    let ours = report["containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with(env.prefix()))
        .count();
    assert_eq!(ours, 50, "{run}");
    for (i, container) in &containers {
        let entry = run.container(&container.name);
        assert_decision(&entry, "up-to-date");
        assert_eq!(
            entry["current_digest"],
            images[*i].digest.as_str(),
            "{entry:#}"
        );
        assert_eq!(
            entry["available_digest"],
            images[*i].digest.as_str(),
            "{entry:#}"
        );
        assert_eq!(entry["outcome"], Value::Null, "{entry:#}");
    }
    assert_eq!(
        counts.manifest_head,
        10,
        "{counts:?}\n{:#?}",
        registry.requests()
    );
    assert_eq!(counts.manifest_get, 0, "{counts:?}");
    assert_eq!(counts.blob_get, 0, "{counts:?}");
    assert_eq!(counts.blob_head, 0, "{counts:?}");
    assert!(counts.ping <= 1, "{counts:?}");

    // New versions of 3 images: their 15 containers have an update, the rest do not.
    let moved: BTreeMap<usize, PushedImage> = [2usize, 5, 7]
        .into_iter()
        .map(|i| {
            let spec = ImageSpec::new().payload(&format!("image {i}"));
            let pushed = env.push_new_version_on(registry.addr(), &format!("app{i}"), "1", &spec);
            (i, pushed)
        })
        .collect();
    registry.reset();
    let run = env.refit(&["check", "--json"]);
    let counts = registry.counts();
    eprintln!("second check: {counts:?}");
    run.assert_code(0);
    let mut updates = 0;
    for (i, container) in &containers {
        let entry = run.container(&container.name);
        assert_eq!(
            entry["current_digest"],
            images[*i].digest.as_str(),
            "{entry:#}"
        );
        match moved.get(i) {
            Some(new) => {
                updates += 1;
                assert_decision(&entry, "update");
                assert_eq!(entry["available_digest"], new.digest.as_str(), "{entry:#}");
                assert_eq!(
                    entry["target_image"],
                    images[*i].reference.as_str(),
                    "{entry:#}"
                );
            }
            None => assert_decision(&entry, "up-to-date"),
        }
    }
    assert_eq!(updates, 15);
    assert_eq!(
        counts.manifest_head,
        10,
        "{counts:?}\n{:#?}",
        registry.requests()
    );
    assert_eq!(counts.manifest_get, 0, "{counts:?}");
    assert_eq!(counts.blob_get, 0, "{counts:?}");
    assert_eq!(counts.blob_head, 0, "{counts:?}");
    assert!(counts.ping <= 1, "{counts:?}");

    // A check changes nothing: the same containers, the same ids, still running.
    assert_eq!(container_ids(&env), ids_before);
    for (_, container) in &containers[..3] {
        assert_eq!(env.state(&container.name), "running");
    }
    eprintln!("test body took {:?}", started.elapsed());
}

#[test]
fn the_table_shows_one_row_per_container_with_short_digests() {
    let env = TestEnv::new("the_table_shows_one_row_per_container");
    let spec = ImageSpec::new();
    let stable = env.build_image("stable", "1", &spec.clone().payload("stable"));
    let moving = env.build_image("moving", "1", &spec.clone().payload("moving"));
    let new = env.push_new_version("moving", "1", &spec);
    let current = env.run("current", &ENABLED, &stable.reference);
    let behind = env.run("behind", &ENABLED, &moving.reference);
    let ignored = env.run("ignored", &[], &stable.reference);

    let run = env.refit(&["check"]);
    run.assert_code(0);
    // The header, then our rows (the table also lists other tests' containers, another scope).
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.starts_with(env.prefix()))
        .map(|(_, l)| l)
        .collect();
    assert_eq!(lines.len(), 4, "a header and 3 rows\n{run}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "IMAGE", "CURRENT", "AVAILABLE", "DECISION"],
        "{run}"
    );
    let row = |name: &str| -> Vec<&str> {
        lines[1..]
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}\n{run}"))
            .split_whitespace()
            .collect()
    };
    assert_eq!(
        row(&current.name),
        [
            current.name.as_str(),
            stable.reference.as_str(),
            short(&stable.digest),
            short(&stable.digest),
            "up-to-date"
        ],
        "{run}"
    );
    assert_eq!(
        row(&behind.name),
        [
            behind.name.as_str(),
            moving.reference.as_str(),
            short(&moving.digest),
            short(&new.digest),
            "update"
        ],
        "{run}"
    );
    let skipped = row(&ignored.name).join(" ");
    assert!(
        skipped.ends_with("skip: not selected: no refit.enable=true label"),
        "{skipped}\n{run}"
    );
    // The columns line up: every row's IMAGE starts where the header's does.
    let column = lines[0].find("IMAGE").unwrap();
    for line in &lines[1..] {
        assert!(
            line[column..].starts_with(env.registry()),
            "IMAGE column misaligned in {line:?}\n{run}"
        );
    }
}

#[test]
fn selection_labels_env_and_monitor_only() {
    let env = TestEnv::new("selection_labels_env_and_monitor_only");
    let spec = ImageSpec::new();
    let stable = env.build_image("stable", "1", &spec.clone().payload("stable"));
    let moving = env.build_image("moving", "1", &spec.clone().payload("moving"));
    let new = env.push_new_version("moving", "1", &spec);

    let plain = env.run("plain", &[], &stable.reference);
    let off = env.run("off", &["--label", "refit.enable=false"], &stable.reference);
    let watchtower = env.run(
        "watchtower",
        &["--label", "com.centurylinklabs.watchtower.enable=true"],
        &stable.reference,
    );
    let monitored = env.run(
        "monitored",
        &[&ENABLED[..], &["--label", "refit.monitor-only=true"]].concat(),
        &moving.reference,
    );
    let updatable = env.run("updatable", &ENABLED, &moving.reference);
    let ids_before = container_ids(&env);

    // Opt-in (the default).
    let run = env.refit(&["check", "--json"]);
    run.assert_code(0);
    let entry = run.container(&plain.name);
    assert_decision(&entry, "skip");
    assert_eq!(
        entry["reason"], "not selected: no refit.enable=true label",
        "{entry:#}"
    );
    let entry = run.container(&off.name);
    assert_decision(&entry, "skip");
    assert_eq!(
        entry["reason"], "not selected: labelled refit.enable=false",
        "{entry:#}"
    );
    assert_decision(&run.container(&watchtower.name), "up-to-date");
    let entry = run.container(&monitored.name);
    assert_decision(&entry, "available");
    assert_eq!(entry["available_digest"], new.digest.as_str(), "{entry:#}");
    assert_eq!(entry["current_digest"], moving.digest.as_str(), "{entry:#}");
    assert_decision(&run.container(&updatable.name), "update");

    // Selection all: the unlabelled container is checked, refit.enable=false still skipped.
    let run = env
        .refit_command(&["check", "--json"])
        .env("REFIT_POLICY_SELECTION", "all")
        .run();
    run.assert_code(0);
    let entry = run.container(&plain.name);
    assert_decision(&entry, "up-to-date");
    assert_eq!(entry["current_digest"], stable.digest.as_str(), "{entry:#}");
    let entry = run.container(&off.name);
    assert_decision(&entry, "skip");
    assert_eq!(
        entry["reason"], "not selected: labelled refit.enable=false",
        "{entry:#}"
    );
    assert_decision(&run.container(&watchtower.name), "up-to-date");

    // Monitor-only from the environment: every update is only reported.
    let run = env
        .refit_command(&["check", "--json"])
        .env("REFIT_POLICY_MONITOR_ONLY", "true")
        .run();
    run.assert_code(0);
    assert_decision(&run.container(&updatable.name), "available");
    assert_decision(&run.container(&monitored.name), "available");
    assert_decision(&run.container(&watchtower.name), "up-to-date");

    // `refit update` under monitor-only leaves both alone.
    let run = env
        .refit_command(&["update", "--json"])
        .env("REFIT_POLICY_MONITOR_ONLY", "true")
        .run();
    run.assert_code(0);
    assert_eq!(run.json()["pass"]["mode"], "update");
    for name in [&updatable.name, &monitored.name] {
        let entry = run.container(name);
        assert_decision(&entry, "available");
        assert_eq!(entry["outcome"], "available", "{entry:#}");
    }
    assert_eq!(container_ids(&env), ids_before);

    // The label alone: `refit update` of the monitored container leaves it alone too.
    let run = env.refit(&["update", "--json", &monitored.name]);
    run.assert_code(0);
    let containers = run.json()["containers"].as_array().unwrap().clone();
    assert_eq!(containers.len(), 1, "narrowed to the name given\n{run}");
    let entry = run.container(&monitored.name);
    assert_decision(&entry, "available");
    assert_eq!(entry["outcome"], "available", "{entry:#}");
    assert_eq!(container_ids(&env), ids_before);
    assert_eq!(env.state(&monitored.name), "running");
    assert_eq!(
        env.inspect(&monitored.name)["Image"],
        moving.id.as_str(),
        "the monitored container still runs the old image"
    );
}

#[test]
fn local_pinned_and_image_id_containers_are_skipped() {
    let env = TestEnv::new("local_pinned_and_image_id_skipped");
    let image = env.build_image("app", "1", &ImageSpec::new());

    // A local image: committed on this host, never pushed, so it has no RepoDigests.
    let source = env.run("source", &[], &image.reference);
    let local_reference = format!("{}/local:1", env.prefix());
    env.track_image(&local_reference);
    let label = format!("LABEL {}", env.label_arg());
    docker_ok(&["commit", "--change", &label, &source.name, &local_reference]);
    assert_eq!(
        env.image_inspect(&local_reference)["RepoDigests"],
        serde_json::json!([])
    );
    let local = env.run("local", &ENABLED, &local_reference);
    let pinned = env.run("pinned", &ENABLED, &image.pinned());
    let by_id = env.run("by-id", &ENABLED, &image.id);
    let ids_before = container_ids(&env);

    let run = env.refit(&["check", "--json"]);
    run.assert_code(0);
    let entry = run.container(&local.name);
    assert_decision(&entry, "skip");
    assert!(
        entry["reason"].as_str().unwrap().contains("local image"),
        "{entry:#}"
    );
    assert_eq!(entry["current_digest"], Value::Null, "{entry:#}");
    assert_eq!(entry["available_digest"], Value::Null, "{entry:#}");

    let entry = run.container(&pinned.name);
    assert_decision(&entry, "skip");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .contains("pinned by digest"),
        "{entry:#}"
    );
    assert_eq!(entry["available_digest"], Value::Null, "{entry:#}");

    let entry = run.container(&by_id.name);
    assert_decision(&entry, "skip");
    assert!(
        entry["reason"].as_str().unwrap().contains("image id"),
        "{entry:#}"
    );

    // `refit update` leaves them alone.
    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    for name in [&local.name, &pinned.name, &by_id.name] {
        assert_eq!(run.container(name)["outcome"], "skipped", "{run}");
    }
    assert_eq!(container_ids(&env), ids_before);
}
