//! How refit reaches things: the engine over tcp:// as well as the unix socket, and a private
//! registry behind token auth with credentials from Docker's config.json (for the check and for
//! the engine's pull).

use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::thread;

use crate::support::{CountingRegistry, ImageSpec, RequestCounts, TestEnv, TokenAuth};

const ENABLE: &str = "refit.enable=true";

/// Forwards every connection on a loopback TCP port to the engine's unix socket, so that
/// refit's tcp:// transport meets the real engine. Returns `tcp://127.0.0.1:<port>`.
fn tcp_to_docker_socket() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = format!("tcp://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else {
                continue;
            };
            let (mut client_read, mut engine_write) =
                (client.try_clone().unwrap(), engine.try_clone().unwrap());
            let (mut engine_read, mut client_write) = (engine, client);
            thread::spawn(move || io::copy(&mut client_read, &mut engine_write));
            thread::spawn(move || io::copy(&mut engine_read, &mut client_write));
        }
    });
    address
}

#[test]
fn the_engine_is_reached_over_tcp_too() {
    let env = TestEnv::new("engine_tcp");
    let v1 = env.build_image("app", "1", &ImageSpec::new().payload("v1"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version("app", "1", &ImageSpec::new().payload("v2"));
    let address = tcp_to_docker_socket();

    let run = env.refit(&["--docker-host", &address, "update", "--json"]);
    run.assert_code(0);
    assert_eq!(run.container(&web.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&web.name)["Image"], v2.id.as_str());
}

#[test]
fn a_private_registry_is_checked_and_pulled_with_config_json_credentials() {
    let env = TestEnv::new("private_registry");
    let auth = TokenAuth {
        credentials: Some(("refit".into(), "s3cret-pw".into())),
        ..TokenAuth::default()
    };
    let registry = CountingRegistry::start_with_token_auth(auth);
    let spec = ImageSpec::new();
    let v1 = env.build_image_on(registry.addr(), "app", "1", &spec.clone().payload("v1"));
    let web = env.run("web", &["--label", ENABLE], &v1.reference);
    let v2 = env.push_new_version_on(registry.addr(), "app", "1", &spec.payload("v2"));
    let docker_config = registry
        .docker_config()
        .expect("a token registry has credentials")
        .to_str()
        .unwrap()
        .to_string();
    registry.reset();

    let check = env
        .refit_command(&["check", "--json"])
        .env("DOCKER_CONFIG", &docker_config)
        .run();
    check.assert_code(0);
    assert_eq!(check.container(&web.name)["decision"], "update", "{check}");
    let expected = RequestCounts {
        ping: 1,
        token: 1,
        manifest_head: 1,
        ..RequestCounts::default()
    };
    assert_eq!(
        registry.counts(),
        expected,
        "one ping, one token, one HEAD: {:#?}",
        registry.requests()
    );

    let update = env
        .refit_command(&["update", "--json"])
        .env("DOCKER_CONFIG", &docker_config)
        .run();
    update.assert_code(0);
    assert_eq!(
        update.container(&web.name)["outcome"],
        "updated",
        "{update}"
    );
    assert_eq!(
        env.inspect(&web.name)["Image"],
        v2.id.as_str(),
        "the engine pulled with the same credentials"
    );
    for output in [&check.stdout, &check.stderr, &update.stdout, &update.stderr] {
        assert!(
            !output.contains("s3cret-pw"),
            "the password leaked into refit's output"
        );
    }
}

#[test]
fn wrong_credentials_fail_only_that_registrys_containers() {
    let env = TestEnv::new("wrong_credentials");
    let auth = TokenAuth {
        credentials: Some(("refit".into(), "right".into())),
        ..TokenAuth::default()
    };
    let registry = CountingRegistry::start_with_token_auth(auth);
    let private = env.build_image_on(registry.addr(), "app", "1", &ImageSpec::new().payload("p1"));
    let public = env.build_image("pub", "1", &ImageSpec::new().payload("o1"));
    let locked = env.run("locked", &["--label", ENABLE], &private.reference);
    let open = env.run("open", &["--label", ENABLE], &public.reference);
    let public_v2 = env.push_new_version("pub", "1", &ImageSpec::new().payload("o2"));
    let wrong = env.dir().join("wrong-docker");
    std::fs::create_dir_all(&wrong).unwrap();
    let auth = format!(
        "{{\"auths\":{{\"{}\":{{\"auth\":\"cmVmaXQ6d3Jvbmc=\"}}}}}}",
        registry.addr()
    ); // refit:wrong
    std::fs::write(wrong.join("config.json"), auth).unwrap();

    let run = env
        .refit_command(&["update", "--json"])
        .env("DOCKER_CONFIG", wrong.to_str().unwrap())
        .run();
    run.assert_code(1);
    let line = run.container(&locked.name);
    assert_eq!(line["decision"], "error", "{run}");
    assert!(
        line["reason"].as_str().unwrap().contains(registry.addr()),
        "the reason names the registry: {run}"
    );
    assert_eq!(
        env.inspect(&locked.name)["Id"],
        locked.id.as_str(),
        "untouched"
    );
    assert_eq!(run.container(&open.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&open.name)["Image"], public_v2.id.as_str());
}
