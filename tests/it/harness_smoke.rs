//! Tests of the harness itself, against the real engine and registry: if these fail, no other
//! integration test can be trusted.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{
    CountingRegistry, Healthcheck, ImageSpec, RequestCounts, TestEnv, TokenAuth, docker, docker_ok,
    manifest_digest,
};

#[test]
fn two_versions_have_different_digests_and_both_pull() {
    let env = TestEnv::new("two_versions_have_different_digests_and_both_pull");
    let spec = ImageSpec::new();
    let v1 = env.build_image("app", "1", &spec.clone().payload("one"));
    let v2 = env.push_new_version("app", "1", &spec);

    assert_ne!(v1.digest, v2.digest);
    assert_ne!(v1.id, v2.id);
    assert_eq!(v1.reference, v2.reference);
    assert_eq!(
        manifest_digest(env.registry(), &v2.path, "1"),
        Some(v2.digest.clone())
    );
    // The local tag stays on v1, and v2 is not kept locally.
    assert_eq!(env.image_inspect(&v1.reference)["Id"], v1.id.as_str());
    assert!(!env.image_exists(&v2.id));

    env.remove_local_image(&v1);
    for version in [&v1, &v2] {
        docker_ok(&["pull", &version.pinned()]);
        assert_eq!(
            env.image_inspect(&version.pinned())["Id"],
            version.id.as_str()
        );
    }
}

#[test]
fn image_spec_sets_the_image_config() {
    let env = TestEnv::new("image_spec_sets_the_image_config");
    let spec = ImageSpec::new()
        .env("GREETING", "hello \"world\" $HOME")
        .label("org.opencontainers.image.version", "1.2.3")
        .entrypoint(&["sh", "-c"])
        .cmd(&["trap 'exit 0' TERM; sleep 3600 & wait"])
        .workdir("/srv")
        .user("app")
        .expose("8080")
        .volume("/data")
        .healthcheck(Healthcheck::shell("true").interval("2s"))
        .stop_signal("SIGINT");
    let image = env.build_image("spec", "1", &spec);

    let config = &env.image_inspect(&image.reference)["Config"];
    let env_vars = config["Env"].as_array().unwrap();
    assert!(
        env_vars
            .iter()
            .any(|e| e == "GREETING=hello \"world\" $HOME"),
        "{env_vars:?}"
    );
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    assert_eq!(config["Labels"]["refit.test"], env.prefix());
    assert_eq!(config["Entrypoint"], serde_json::json!(["sh", "-c"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["trap 'exit 0' TERM; sleep 3600 & wait"])
    );
    assert_eq!(config["WorkingDir"], "/srv");
    assert_eq!(config["User"], "app");
    assert!(config["ExposedPorts"].get("8080/tcp").is_some(), "{config}");
    assert!(config["Volumes"].get("/data").is_some(), "{config}");
    assert_eq!(
        config["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "sh", "-c", "true"])
    );
    assert_eq!(config["Healthcheck"]["Interval"], 2_000_000_000u64);
    assert_eq!(config["StopSignal"], "SIGINT");

    let container = env.run("web", &[], &image.reference);
    assert_eq!(env.exec(&container.name, &["id", "-un"]).trim(), "app");
    assert_eq!(env.exec(&container.name, &["pwd"]).trim(), "/srv");
}

#[test]
fn run_exec_and_a_fast_stop() {
    let env = TestEnv::new("run_exec_and_a_fast_stop");
    let image = env.build_image("app", "1", &ImageSpec::new().payload("hello"));
    let container = env.run("web", &["--hostname", "web"], &image.reference);

    assert_eq!(container.name, env.name("web"));
    assert!(container.id.len() == 64, "{container:?}");
    assert_eq!(env.state(&container.name), "running");
    assert_eq!(env.exec(&container.name, &["cat", "/payload"]), "hello");
    assert_eq!(env.exec(&container.name, &["hostname"]).trim(), "web");
    let labels = &env.inspect(&container.name)["Config"]["Labels"];
    assert_eq!(labels["refit.test"], env.prefix());
    assert_eq!(labels["refit.scope"], env.prefix());
    assert_eq!(env.containers(), vec![container.name.clone()]);

    // The default command exits on SIGTERM at once, so stopping never waits for the kill timeout.
    let started = Instant::now();
    docker_ok(&["stop", "-t", "10", &container.name]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        started.elapsed()
    );
    assert_eq!(env.state(&container.name), "exited");
    assert_eq!(env.inspect(&container.name)["State"]["ExitCode"], 0);
}

#[test]
fn counting_registry_counts_one_manifest_head() {
    let env = TestEnv::new("counting_registry_counts_one_manifest_head");
    let registry = CountingRegistry::start();
    let image = env.build_image_on(registry.addr(), "app", "1", &ImageSpec::new());
    assert!(
        registry.counts().other > 0,
        "the push is counted until reset()"
    );
    registry.reset();

    let url = format!("http://{}/v2/{}/manifests/1", registry.addr(), image.path);
    let output = Command::new("curl")
        .args([
            "-sfI",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &url,
        ])
        .output()
        .expect("run curl");
    let headers = String::from_utf8_lossy(&output.stdout).to_ascii_lowercase();
    assert!(output.status.success(), "curl -I {url}: {headers}");
    assert!(
        headers.contains(&format!("docker-content-digest: {}", image.digest)),
        "{headers}"
    );

    assert_eq!(
        registry.counts(),
        RequestCounts {
            manifest_head: 1,
            ..RequestCounts::default()
        }
    );
    let requests = registry.requests();
    assert_eq!(requests[0].uri, format!("/v2/{}/manifests/1", image.path));
    assert_eq!(requests[0].status, 200);

    // Docker's pull: a ping, the tag's manifest (HEAD, then GET), the config blob (the busybox layer
    // may still be local, shared with other images).
    registry.reset();
    env.remove_local_image(&image);
    docker_ok(&["pull", &image.reference]);
    let counts = registry.counts();
    assert!(
        counts.ping >= 1 && counts.manifest_get >= 1 && counts.blob_get >= 1,
        "{counts:?}"
    );
}

/// `curl ARGS`: (exit success, stdout).
fn curl(args: &[&str]) -> (bool, String) {
    let output = Command::new("curl").args(args).output().expect("run curl");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn token_auth_registry_grants_tokens_to_its_user_and_counts_them() {
    let env = TestEnv::new("token_auth_registry_grants_tokens");
    let auth = TokenAuth {
        credentials: Some(("refit".into(), "s3cret".into())),
        ..TokenAuth::default()
    };
    let registry = CountingRegistry::start_with_token_auth(auth);
    let image = env.build_image_on(registry.addr(), "app", "1", &ImageSpec::new());
    assert!(registry.counts().token >= 1, "the push fetched a token");
    registry.reset();

    let manifest = format!("http://{}/v2/{}/manifests/1", registry.addr(), image.path);
    let accept = "Accept: application/vnd.docker.distribution.manifest.v2+json";
    let (_, challenge) = curl(&["-sI", "-H", accept, &manifest]);
    assert!(challenge.starts_with("HTTP/1.1 401"), "{challenge}");
    let realm = registry.token_realm().unwrap();
    assert!(
        challenge.contains(&format!("Bearer realm=\"{realm}\"")),
        "{challenge}"
    );

    let token_url = format!(
        "{realm}?service=refit-test-registry&scope=repository:{}:pull",
        image.path
    );
    let (ok, _) = curl(&["-sf", &token_url]);
    assert!(!ok, "a token without credentials");
    let (ok, body) = curl(&["-sf", "-u", "refit:s3cret", &token_url]);
    assert!(ok, "no token with the right credentials");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Authorization: Bearer {}", body["token"].as_str().unwrap());
    let (ok, headers) = curl(&["-sfI", "-H", accept, "-H", &bearer, &manifest]);
    assert!(ok, "{headers}");
    assert!(
        headers.to_ascii_lowercase().contains(&image.digest),
        "{headers}"
    );

    let expected = RequestCounts {
        token: 2,
        manifest_head: 2,
        ..RequestCounts::default()
    };
    assert_eq!(registry.counts(), expected, "{:#?}", registry.requests());
}

#[test]
fn drop_removes_what_the_env_created_and_nothing_else() {
    let bystander_env = TestEnv::new("drop_removes_bystander");
    let bystander_image = bystander_env.build_image("app", "1", &ImageSpec::new());
    let bystander = bystander_env.run("other", &[], &bystander_image.reference);

    let env = TestEnv::new("drop_removes_what_the_env_created");
    let image = env.build_image("app", "1", &ImageSpec::new().payload("x"));
    let pulled = env.push_new_version("app", "1", &ImageSpec::new());
    docker_ok(&["pull", &pulled.pinned()]);
    let network = env.create_network("net", &[]);
    let volume = env.create_volume("vol");
    let mount = format!("{volume}:/data");
    let container = env.run(
        "web",
        &["--network", &network, "-v", &mount, "-v", "/anon"],
        &image.reference,
    );
    let anonymous = env.inspect(&container.name)["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Destination"] == "/anon")
        .map(|m| m["Name"].as_str().unwrap().to_owned())
        .unwrap();
    // Made behind the harness's back, as refit makes its replacement containers: found by label.
    let untracked = env.name("untracked");
    // Named like the env's objects but labelled for another env: cleanup goes by label, not by name.
    let lookalike = env.name("lookalike");
    let bystander_label = bystander_env.label_arg();
    docker_ok(&[
        "create",
        "--name",
        &lookalike,
        "--label",
        &bystander_label,
        &bystander_image.reference,
    ]);
    docker_ok(&[
        "create",
        "--name",
        &untracked,
        "--label",
        &env.label_arg(),
        &image.reference,
    ]);
    let container_names = [container.name.clone(), untracked.clone()];
    drop(env);

    for name in &container_names {
        assert!(
            !bystander_env.container_exists(name),
            "container {name} survived"
        );
    }
    assert!(!bystander_env.network_exists(&network));
    assert!(!bystander_env.volume_exists(&volume));
    assert!(
        !bystander_env.volume_exists(&anonymous),
        "anonymous volume {anonymous} survived"
    );
    assert!(!bystander_env.image_exists(&image.reference));
    assert!(!bystander_env.image_exists(&image.id));
    assert!(!bystander_env.image_exists(&pulled.id));
    assert_eq!(
        manifest_digest(bystander_env.registry(), &image.path, &image.digest),
        None
    );

    assert_eq!(bystander_env.state(&bystander.name), "running");
    assert!(bystander_env.container_exists(&lookalike));
    assert!(bystander_env.image_exists(&bystander_image.reference));
    assert!(manifest_digest(bystander_env.registry(), &bystander_image.path, "1").is_some());
}

#[test]
fn drop_cleans_up_after_a_panic() {
    let names = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let env = TestEnv::new("drop_cleans_up_after_a_panic");
        let image = env.build_image("app", "1", &ImageSpec::new());
        let container = env.run("web", &[], &image.reference);
        *names.lock().unwrap() = Some((container.name, image.id));
        panic!("the test fails here");
    });
    assert!(result.is_err());
    let (container, image) = names.lock().unwrap().take().unwrap();
    let ps = docker(&["container", "inspect", &container]);
    assert!(
        !ps.status.success(),
        "container {container} survived the panic"
    );
    let inspect = docker(&["image", "inspect", &image]);
    assert!(
        !inspect.status.success(),
        "image {image} survived the panic"
    );
}
