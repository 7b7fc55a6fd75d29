//! The docker CLI, wrapped: raw calls that panic with the command and its stderr, and the `TestEnv`
//! helpers that create containers, networks and volumes labelled and named for the test.

use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use super::{SCOPE_LABEL, TestEnv, wait_until};

/// A container the harness started: its full name (`<prefix>-<suffix>`) and id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub id: String,
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new("docker");
    command.args(args);
    // The legacy builder: it needs no buildx plugin and caches the busybox layer across builds.
    command.env("DOCKER_BUILDKIT", "0");
    command
}

/// Runs `docker ARGS` and returns its output, whatever its exit status.
pub fn docker(args: &[&str]) -> Output {
    command(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {}: {e}", args.join(" ")))
}

/// Runs `docker ARGS`: its trimmed stdout on success, its stderr otherwise.
pub(super) fn try_docker(args: &[&str]) -> Result<String, String> {
    let output = match command(args).output() {
        Ok(output) => output,
        Err(e) => return Err(format!("cannot run docker: {e}")),
    };
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// Runs `docker ARGS` and returns its trimmed stdout; panics with the command and stderr on failure.
pub fn docker_ok(args: &[&str]) -> String {
    try_docker(args).unwrap_or_else(|stderr| panic!("docker {} failed:\n{stderr}", args.join(" ")))
}

/// The lines of a listing command, empty when it fails.
pub(super) fn list(args: &[&str]) -> Vec<String> {
    try_docker(args)
        .map(|out| out.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The one object `docker ... inspect` printed.
fn inspect_one(args: &[&str]) -> Value {
    let out = docker_ok(args);
    let mut all: Vec<Value> = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("docker {}: not a JSON array ({e}):\n{out}", args.join(" ")));
    assert_eq!(
        all.len(),
        1,
        "docker {} gave {} objects",
        args.join(" "),
        all.len()
    );
    all.remove(0)
}

/// Whether docker's error says the object does not exist (the wording varies by object kind).
pub(super) fn is_not_found(stderr: &str) -> bool {
    let stderr = stderr.to_ascii_lowercase();
    stderr.contains("no such") || stderr.contains("not found")
}

/// Whether an object exists: false on "No such ...", a panic on any other failure.
fn exists(args: &[&str]) -> bool {
    match try_docker(args) {
        Ok(_) => true,
        Err(stderr) if is_not_found(&stderr) => false,
        Err(stderr) => panic!("docker {} failed:\n{stderr}", args.join(" ")),
    }
}

impl TestEnv {
    /// `docker run -d --name <prefix>-<name_suffix> ARGS IMAGE` with the image's own command.
    ///
    /// The container carries `refit.test=<prefix>` and, unless ARGS give a `refit.scope` (or
    /// Watchtower scope) label, `refit.scope=<prefix>`, the scope `TestEnv::refit` runs under: so a
    /// test's refit never sees another test's containers.
    pub fn run(&self, name_suffix: &str, args: &[&str], image: &str) -> Container {
        self.start_container("run", name_suffix, args, image, &[])
    }

    /// `run` with a command after the image.
    pub fn run_cmd(
        &self,
        name_suffix: &str,
        args: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Container {
        self.start_container("run", name_suffix, args, image, cmd)
    }

    /// `docker create`: like `run`, but the container stays `created` (not started).
    pub fn create(&self, name_suffix: &str, args: &[&str], image: &str) -> Container {
        self.start_container("create", name_suffix, args, image, &[])
    }

    fn start_container(
        &self,
        verb: &str,
        name_suffix: &str,
        args: &[&str],
        image: &str,
        cmd: &[&str],
    ) -> Container {
        let name = self.name(name_suffix);
        self.track_container(&name);
        let test_label = self.label_arg();
        let scope_label = format!("{SCOPE_LABEL}={}", self.prefix());
        let mut full = vec![verb];
        if verb == "run" {
            full.push("-d");
        }
        full.extend(["--name", &name, "--label", &test_label]);
        let scoped = args.iter().any(|a| {
            a.starts_with("refit.scope=") || a.starts_with("com.centurylinklabs.watchtower.scope=")
        });
        if !scoped {
            full.extend(["--label", &scope_label]);
        }
        full.extend(args);
        full.push(image);
        full.extend(cmd);
        let id = docker_ok(&full);
        Container { name, id }
    }

    /// `docker container inspect NAME` (a name or id, of any container).
    pub fn inspect(&self, name: &str) -> Value {
        inspect_one(&["container", "inspect", name])
    }

    /// `inspect`, or `None` while no container has that name (refit renames and replaces
    /// containers: a loop polling one must not panic in between).
    pub fn try_inspect(&self, name: &str) -> Option<Value> {
        let out = try_docker(&["container", "inspect", name]).ok()?;
        let mut all: Vec<Value> = serde_json::from_str(&out).ok()?;
        (all.len() == 1).then(|| all.remove(0))
    }

    /// `docker image inspect REFERENCE` (a reference or id).
    pub fn image_inspect(&self, reference: &str) -> Value {
        inspect_one(&["image", "inspect", reference])
    }

    /// `.State.Status` of a container: `created`, `running`, `exited`, ...
    pub fn state(&self, name: &str) -> String {
        docker_ok(&[
            "container",
            "inspect",
            "--format",
            "{{.State.Status}}",
            name,
        ])
    }

    /// Waits until a container's `.State.Status` is `state`.
    pub fn wait_for_state(&self, name: &str, state: &str, timeout: Duration) {
        wait_until(&format!("container {name} to be {state}"), timeout, || {
            (self.state(name) == state).then_some(())
        });
    }

    pub fn container_exists(&self, name: &str) -> bool {
        exists(&["container", "inspect", "--format", "{{.Id}}", name])
    }

    pub fn image_exists(&self, reference: &str) -> bool {
        exists(&["image", "inspect", "--format", "{{.Id}}", reference])
    }

    pub fn network_exists(&self, name: &str) -> bool {
        exists(&["network", "inspect", "--format", "{{.Id}}", name])
    }

    pub fn volume_exists(&self, name: &str) -> bool {
        exists(&["volume", "inspect", "--format", "{{.Name}}", name])
    }

    /// Names of all containers carrying this test's label, whoever created them (refit's
    /// replacements and `<name>.refit-old` included), sorted.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label={}", self.label_arg());
        let mut names = list(&["ps", "-a", "--format", "{{.Names}}", "--filter", &filter]);
        names.sort();
        names
    }

    /// `docker exec NAME CMD...`: its stdout (untrimmed); panics with stderr when it fails.
    pub fn exec(&self, name: &str, cmd: &[&str]) -> String {
        let args = [&["exec", name][..], cmd].concat();
        let output = docker(&args);
        assert!(
            output.status.success(),
            "docker {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `docker network create ARGS <prefix>-<suffix>`; returns the full name.
    pub fn create_network(&self, suffix: &str, args: &[&str]) -> String {
        let name = self.name(suffix);
        self.created().networks.push(name.clone());
        let label = self.label_arg();
        docker_ok(&[&["network", "create", "--label", &label], args, &[&name]].concat());
        name
    }

    /// `docker volume create <prefix>-<suffix>`; returns the full name.
    pub fn create_volume(&self, suffix: &str) -> String {
        let name = self.name(suffix);
        self.created().volumes.push(name.clone());
        docker_ok(&["volume", "create", "--label", &self.label_arg(), &name]);
        name
    }
}
