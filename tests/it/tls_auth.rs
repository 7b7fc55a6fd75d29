//! A private registry over TLS (a CA made by the test) behind htpasswd Basic auth: refit checks it
//! and the engine pulls from it with the credentials from Docker's `config.json` (`auths`), from a
//! credential helper, and from refit's own `[registries]` table (with `ca_file`); a wrong password
//! fails only that registry's container; the password shows nowhere refit writes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{ImageSpec, RefitRun, TestEnv, TlsRegistry};

const ENABLE: &str = "refit.enable=true";
const USER: &str = "refit";
const PASSWORD: &str = "tls-S3cret-7f3a9c";
const WRONG: &str = "wr0ng-Pw-c41d";

/// A `docker-credential-refittest` helper that knows `addr`'s credentials, in `dir`.
fn credential_helper(dir: &Path, addr: &str) {
    let script = format!(
        "#!/bin/sh\n\
         # A Docker credential helper for one registry (the protocol: `get`, server on stdin).\n\
         [ \"$1\" = get ] || exit 1\n\
         read -r server\n\
         if [ \"$server\" = \"{addr}\" ]; then\n\
           printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
         else\n\
           echo 'credentials not found in native keychain'; exit 1\n\
         fi\n"
    );
    let path = dir.join("docker-credential-refittest");
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `refit --log-level trace update --json NAME`: the most refit ever writes about one container.
fn update(name: &str) -> [&str; 5] {
    ["--log-level", "trace", "update", "--json", name]
}

fn assert_no_secret(run: &RefitRun) {
    for secret in [PASSWORD, WRONG] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a password leaked into refit's output\n{run}"
        );
    }
}

#[test]
fn a_tls_registry_with_basic_auth_works_with_credentials_from_every_source() {
    let env = TestEnv::new("tls_basic");
    let mut registry = TlsRegistry::start(USER, PASSWORD);
    registry.trust_in_docker();
    let addr = registry.addr().to_owned();
    let mut containers = Vec::new();
    for source in ["json", "helper", "toml"] {
        let repo = format!("app-{source}");
        let v1 = env.build_image_on(&addr, &repo, "1", &ImageSpec::new().payload("v1"));
        let container = env.run(source, &["--label", ENABLE], &v1.reference);
        let v2 = env.push_new_version_on(&addr, &repo, "1", &ImageSpec::new().payload("v2"));
        containers.push((container, v2));
    }

    // Docker's config.json, `auths`; the CA from /etc/docker/certs.d.
    let (json, v2) = &containers[0];
    let run = env
        .refit_command(&update(&json.name))
        .env("DOCKER_CONFIG", registry.docker_config().to_str().unwrap())
        .run();
    assert_no_secret(&run);
    run.assert_code(0);
    assert_eq!(run.container(&json.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&json.name)["Image"], v2.id.as_str());

    // A credential helper on refit's PATH, named by `credHelpers`.
    let (helper, v2) = &containers[1];
    let helper_dir = env.dir().join("helper");
    fs::create_dir_all(helper_dir.join("docker")).unwrap();
    credential_helper(&helper_dir, &addr);
    let config = format!("{{\"credHelpers\":{{\"{addr}\":\"refittest\"}}}}");
    fs::write(helper_dir.join("docker/config.json"), config).unwrap();
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap()
    );
    let run = env
        .refit_command(&update(&helper.name))
        .env("DOCKER_CONFIG", helper_dir.join("docker").to_str().unwrap())
        .env("PATH", &path)
        .run();
    assert_no_secret(&run);
    run.assert_code(0);
    assert_eq!(run.container(&helper.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&helper.name)["Image"], v2.id.as_str());

    // refit's own table: username, password_file and ca_file (certs.d no longer holds the CA).
    registry.untrust_in_docker();
    let (toml, v2) = &containers[2];
    let password_file = env.dir().join("registry.pw");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    env.write_config(&format!(
        "[registries.\"{addr}\"]\nusername = \"{USER}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        password_file.display(),
        registry.ca().display()
    ));
    let printed = env.refit(&["config"]);
    printed.assert_code(0);
    assert!(printed.stdout.contains("password = \"***\""), "{printed}");
    assert_no_secret(&printed);
    let run = env.refit(&update(&toml.name));
    assert_no_secret(&run);
    run.assert_code(0);
    assert_eq!(run.container(&toml.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&toml.name)["Image"], v2.id.as_str());
}

#[test]
fn a_wrong_password_fails_only_that_registrys_container_and_is_never_shown() {
    let env = TestEnv::new("tls_wrong_pw");
    let registry = TlsRegistry::start(USER, PASSWORD);
    let addr = registry.addr().to_owned();
    let private = env.build_image_on(&addr, "app", "1", &ImageSpec::new().payload("p1"));
    let locked = env.run("locked", &["--label", ENABLE], &private.reference);
    env.push_new_version_on(&addr, "app", "1", &ImageSpec::new().payload("p2"));
    let public = env.build_image("pub", "1", &ImageSpec::new().payload("o1"));
    let open = env.run("open", &["--label", ENABLE], &public.reference);
    let public_v2 = env.push_new_version("pub", "1", &ImageSpec::new().payload("o2"));
    let password_file = env.dir().join("registry.pw");
    fs::write(&password_file, WRONG).unwrap();
    env.write_config(&format!(
        "[registries.\"{addr}\"]\nusername = \"{USER}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        password_file.display(),
        registry.ca().display()
    ));

    let run = env.refit(&["--log-level", "trace", "update", "--json"]);
    assert_no_secret(&run);
    run.assert_code(1);
    let line = run.container(&locked.name);
    assert_eq!(line["decision"], "error", "{run}");
    let reason = line["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&addr) && reason.contains("refused the credentials"),
        "{reason}"
    );
    assert_eq!(
        env.inspect(&locked.name)["Id"],
        locked.id.as_str(),
        "untouched"
    );
    assert_eq!(run.container(&open.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&open.name)["Image"], public_v2.id.as_str());
}
