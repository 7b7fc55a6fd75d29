//! The command line through the real binary: exit statuses (2 bad configuration or unknown
//! name, 3 engine unreachable, 1 failures), error messages that say where, `refit config` with
//! secrets redacted, a pass that survives one unreachable registry, and an idempotent update.

use std::time::Duration;

use crate::support::{CountingRegistry, ImageSpec, TestEnv};

/// `--label refit.enable=true`: containers are selected by opt-in by default.
const ENABLED: [&str; 2] = ["--label", "refit.enable=true"];

/// A refit run that should fail fast never waits for the harness's 2-minute default.
const SHORT: Duration = Duration::from_secs(60);

/// name → id of every container carrying the test's label.
fn container_ids(env: &TestEnv) -> Vec<(String, String)> {
    env.containers()
        .into_iter()
        .map(|name| {
            let id = env.inspect(&name)["Id"].as_str().unwrap().to_owned();
            (name, id)
        })
        .collect()
}

#[test]
fn bad_configuration_exits_2_naming_file_line_and_column() {
    let env = TestEnv::new("bad_configuration_exits_2");
    // (what is wrong, the file, the line and column of the bad token: 1-based, in characters).
    let cases: [(&str, &str, usize, usize); 6] = [
        (
            "syntax error: a bare word as a value",
            "[policy]\nselection = \"all\"\ncleanup = tru\n",
            3,
            11,
        ),
        (
            "syntax error: an unclosed table header",
            "# refit\n\n[policy\ncleanup = true\n",
            3,
            8,
        ),
        (
            "unknown key",
            "[policy]\nselection = \"all\"\n  clenaup = true\n",
            3,
            3,
        ),
        (
            "bad value for selection",
            "[docker]\nhost = \"unix:///var/run/docker.sock\"\n\n[policy]\nselection = \"sometimes\"\n",
            5,
            13,
        ),
        (
            "bad duration",
            "[policy]\ncleanup = true\nstop_timeout = \"5x\"\n",
            3,
            16,
        ),
        (
            "bad value after non-ASCII text on the same line (columns count characters)",
            "policy = { scope = \"café\", selection = \"sometimes\" }\n",
            1,
            40,
        ),
    ];
    for (what, toml, line, column) in cases {
        let path = env.write_config(toml);
        let location = format!("{}:{line}:{column}", path.display());
        for command in ["check", "config"] {
            let run = env.refit_command(&[command]).timeout(SHORT).run();
            assert_eq!(
                run.code(),
                Some(2),
                "{what}: refit {command} should exit 2\n{toml}\n{run}"
            );
            assert!(
                run.stderr.contains(&location),
                "{what}: refit {command}'s stderr should name {location}\n{toml}\n{run}"
            );
            assert!(run.stdout.is_empty(), "{what}: nothing on stdout\n{run}");
        }
    }
}

#[test]
fn an_unreachable_engine_exits_3_naming_the_address() {
    let env = TestEnv::new("an_unreachable_engine_exits_3");
    for (address, named) in [
        ("unix:///nonexistent.sock", "/nonexistent.sock"),
        ("tcp://127.0.0.1:1", "127.0.0.1:1"),
    ] {
        for command in ["check", "update"] {
            let run = env
                .refit_command(&["--docker-host", address, command, "--json"])
                .timeout(SHORT)
                .run();
            assert_eq!(
                run.code(),
                Some(3),
                "refit {command} against {address}\n{run}"
            );
            assert!(
                run.stderr.contains(named),
                "stderr should name {named}\n{run}"
            );
        }
    }
    // DOCKER_HOST is honoured the same way.
    let run = env
        .refit_command(&["check"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .timeout(SHORT)
        .run();
    assert_eq!(run.code(), Some(3), "{run}");
    assert!(run.stderr.contains("/nonexistent.sock"), "{run}");
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_redacted() {
    let env = TestEnv::new("config_prints_the_effective_config");
    let secret = "Zq8-refit-test-secret-4f1c";
    let password_file = env.dir().join("registry-password");
    std::fs::write(&password_file, format!("{secret}\n")).unwrap();
    env.write_config(&format!(
        "[policy]\ncleanup = true\n\n[registries.\"127.0.0.1:5999\"]\nusername = \"refit-user\"\n\
         password_file = \"{}\"\n",
        password_file.display()
    ));

    let run = env
        .refit_command(&["config", "--log-level", "debug"])
        .env("REFIT_POLICY_SCOPE", "x")
        .timeout(SHORT)
        .run();
    run.assert_code(0);
    let effective: toml::Table = toml::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("refit config's output is not TOML: {e}\n{run}"));
    let get = |section: &str, key: &str| effective[section][key].clone();
    assert_eq!(
        get("policy", "cleanup"),
        toml::Value::Boolean(true),
        "file\n{run}"
    );
    assert_eq!(get("policy", "scope"), toml::Value::from("x"), "env\n{run}");
    assert_eq!(
        get("log", "level"),
        toml::Value::from("debug"),
        "flag\n{run}"
    );
    assert_eq!(
        get("policy", "selection"),
        toml::Value::from("opt-in"),
        "default\n{run}"
    );
    let registry = &effective["registries"]["127.0.0.1:5999"];
    assert_eq!(
        registry["username"],
        toml::Value::from("refit-user"),
        "{run}"
    );
    assert_eq!(registry["password"], toml::Value::from("***"), "{run}");
    assert!(run.stdout.contains("password = \"***\""), "{run}");
    assert!(!run.stdout.contains(secret), "the secret on stdout\n{run}");
    assert!(!run.stderr.contains(secret), "the secret on stderr\n{run}");

    // Nor at the most verbose level, in `config` or in a pass.
    for args in [
        &["config", "--log-level", "trace"][..],
        &["check", "--json", "--log-level", "trace"],
        &["--log-format", "json", "--log-level", "trace", "check"],
    ] {
        let run = env.refit_command(args).timeout(SHORT).run();
        run.assert_code(0);
        assert!(
            !run.stdout.contains(secret),
            "refit {args:?}: the secret on stdout\n{run}"
        );
        assert!(
            !run.stderr.contains(secret),
            "refit {args:?}: the secret on stderr\n{run}"
        );
    }
}

#[test]
fn an_unknown_container_name_exits_2_naming_it() {
    let env = TestEnv::new("an_unknown_container_name_exits_2");
    let image = env.build_image("app", "1", &ImageSpec::new());
    let known = env.run("known", &ENABLED, &image.reference);
    let unknown = env.name("no-such-container");
    for command in ["check", "update"] {
        let run = env
            .refit_command(&[command, "--json", &known.name, &unknown])
            .timeout(SHORT)
            .run();
        assert_eq!(run.code(), Some(2), "refit {command}\n{run}");
        assert!(run.stderr.contains(&unknown), "stderr names it\n{run}");
    }
    assert_eq!(env.inspect(&known.name)["Id"], known.id.as_str());
    // The known name alone is fine.
    let run = env.refit(&["check", "--json", &known.name]);
    run.assert_code(0);
    assert_eq!(
        run.container(&known.name)["decision"],
        "up-to-date",
        "{run}"
    );
}

#[test]
fn one_unreachable_registry_fails_only_its_containers() {
    let env = TestEnv::new("one_unreachable_registry_fails_only");
    let spec = ImageSpec::new();
    let shared = env.build_image("shared", "1", &spec.clone().payload("a"));
    let new = env.push_new_version("shared", "1", &spec);
    let private = CountingRegistry::start();
    let gone = env.build_image_on(private.addr(), "gone", "1", &spec.clone().payload("b"));
    let a = env.run("a", &ENABLED, &shared.reference);
    let b = env.run("b", &ENABLED, &gone.reference);
    let addr = private.addr().to_owned();
    drop(private);

    let run = env.refit(&["update", "--json"]);
    assert_eq!(
        run.code(),
        Some(1),
        "a failed container means exit 1\n{run}"
    );

    let entry = run.container(&b.name);
    assert_eq!(entry["decision"], "error", "{entry:#}");
    assert_eq!(entry["outcome"], "failed", "{entry:#}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(reason.contains(&addr), "the reason names {addr}: {entry:#}");
    assert_eq!(
        entry["available_digest"],
        serde_json::Value::Null,
        "{entry:#}"
    );
    assert_eq!(env.inspect(&b.name)["Id"], b.id.as_str(), "B untouched");
    assert_eq!(env.state(&b.name), "running");

    let entry = run.container(&a.name);
    assert_eq!(entry["decision"], "update", "{entry:#}");
    assert_eq!(entry["outcome"], "updated", "{entry:#}");
    assert_eq!(entry["available_digest"], new.digest.as_str(), "{entry:#}");
    let successor = env.inspect(&a.name);
    assert_ne!(successor["Id"], a.id.as_str(), "A was recreated");
    assert_eq!(successor["Image"], new.id.as_str(), "A runs the new image");
    assert_eq!(env.state(&a.name), "running");

    // A check says the same: exit 1 for B's error.
    let run = env.refit(&["check", "--json"]);
    assert_eq!(run.code(), Some(1), "{run}");
    assert_eq!(run.container(&b.name)["decision"], "error", "{run}");
    assert_eq!(run.container(&a.name)["decision"], "up-to-date", "{run}");
}

#[test]
fn a_second_update_is_a_no_op() {
    let env = TestEnv::new("a_second_update_is_a_no_op");
    let spec = ImageSpec::new();
    let image = env.build_image("app", "1", &spec.clone().payload("v1"));
    let new = env.push_new_version("app", "1", &spec);
    let web = env.run("web", &ENABLED, &image.reference);

    let first = env.refit(&["update", "--json"]);
    first.assert_code(0);
    assert_eq!(first.container(&web.name)["outcome"], "updated", "{first}");
    let after_first = container_ids(&env);
    assert_eq!(
        after_first.len(),
        1,
        "no leftover container: {after_first:?}"
    );
    assert_ne!(after_first[0].1, web.id);
    assert_eq!(env.inspect(&web.name)["Image"], new.id.as_str());

    let second = env.refit(&["update", "--json"]);
    second.assert_code(0);
    let entry = second.container(&web.name);
    assert_eq!(entry["decision"], "up-to-date", "{entry:#}");
    assert_eq!(entry["outcome"], "up-to-date", "{entry:#}");
    assert_eq!(entry["id"], after_first[0].1.as_str(), "{entry:#}");
    assert_eq!(entry["current_digest"], new.digest.as_str(), "{entry:#}");
    assert_eq!(entry["available_digest"], new.digest.as_str(), "{entry:#}");
    assert_eq!(
        entry["duration_seconds"],
        serde_json::Value::Null,
        "{entry:#}"
    );
    assert_eq!(container_ids(&env), after_first, "nothing recreated");
    assert_eq!(env.state(&web.name), "running");
}
