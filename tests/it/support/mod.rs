//! The integration-test harness. A `TestEnv` per test owns every container, image, network, volume and
//! registry manifest the test creates: all carry the label `refit.test=<prefix>` and a name under the
//! test's unique prefix, and all are removed when the `TestEnv` drops, also when the test panics.
//! Nothing here removes an object it did not create: the Docker engine is shared with the whole machine.
//!
//! Needs the engine and the local registry that `scripts/test-env.sh` starts.
// Each test module uses a part of the harness; the rest would warn as dead code in that build.
#![allow(dead_code, unused_imports)]

mod catcher;
mod cosign;
mod docker;
mod http;
mod image;
mod proxy;
mod refit;
mod registry;
mod spec;
mod tls;
mod token;

use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use catcher::{
    Caught, HttpCatcher, Mail, SmtpSink, api_call, free_port, metric, parse_metrics, wait_for_api,
};
pub use cosign::{CosignKey, simple_signing_payload};
pub use docker::{Container, docker, docker_ok};
pub use image::PushedImage;
pub use proxy::{Proxy, Upstream};
pub use refit::{RefitCommand, RefitProcess, RefitRun};
pub use registry::{CountingRegistry, LoggedRequest, RequestCounts, manifest_digest};
pub use spec::{Healthcheck, ImageSpec};
pub use tls::TlsRegistry;
pub use token::TokenAuth;

/// Label carried by every object a `TestEnv` creates; its value is the env's prefix.
pub const TEST_LABEL: &str = "refit.test";
/// refit's scope label: containers run through the harness are scoped to their test (see `TestEnv::run`).
pub const SCOPE_LABEL: &str = "refit.scope";
/// The shared test registry when `REFIT_TEST_REGISTRY` is not set.
pub const DEFAULT_REGISTRY: &str = "127.0.0.1:5055";

/// One test's slice of the machine: a unique prefix, the registry to push to and a temp dir.
pub struct TestEnv {
    prefix: String,
    registry: String,
    dir: tempfile::TempDir,
    created: Mutex<Created>,
    counter: AtomicU32,
    build_context: OnceLock<PathBuf>,
}

/// What a `TestEnv` created, in the order it created it.
#[derive(Default)]
struct Created {
    containers: Vec<String>,
    images: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    /// Manifests pushed to the shared registry: (repository path, digest).
    manifests: Vec<(String, String)>,
}

impl TestEnv {
    /// A fresh env for the test `test_name` (a function name or path; only its last segment is used).
    /// Panics, saying to run `scripts/test-env.sh`, when the engine or the registry does not answer.
    pub fn new(test_name: &str) -> TestEnv {
        check_engine();
        let registry =
            std::env::var("REFIT_TEST_REGISTRY").unwrap_or_else(|_| DEFAULT_REGISTRY.to_owned());
        if !registry::answers(&registry) {
            panic!(
                "the test registry at {registry} does not answer GET /v2/: run scripts/test-env.sh \
                 (REFIT_TEST_REGISTRY chooses another address)"
            );
        }
        let prefix = format!("refit-it-{}-{}", short_name(test_name), random_suffix());
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir()
            .expect("create the test's temp dir");
        TestEnv {
            prefix,
            registry,
            dir,
            created: Mutex::default(),
            counter: AtomicU32::new(0),
            build_context: OnceLock::new(),
        }
    }

    /// `refit-it-<short test name>-<random>`: the start of every name this env gives.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `host:port` of the shared test registry.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The test's own temp dir, removed on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The full name of an object of this test: `<prefix>-<suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// `--label refit.test=<prefix>` as one argument, for commands the test runs itself.
    pub fn label_arg(&self) -> String {
        format!("{TEST_LABEL}={}", self.prefix)
    }

    /// A number unique within this env (builds, sync markers, version payloads).
    fn next_id(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn created(&self) -> std::sync::MutexGuard<'_, Created> {
        // A panic while the lock is held must not stop the cleanup.
        self.created.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Has a container made outside the harness (compose, refit itself) removed on drop.
    pub fn track_container(&self, name: &str) {
        self.created().containers.push(name.to_owned());
    }

    /// Has an image reference or id made outside the harness removed on drop.
    pub fn track_image(&self, reference: &str) {
        self.created().images.push(reference.to_owned());
    }

    /// Has a manifest pushed to the shared registry under another address (through a proxy,
    /// say) deleted on drop: `path` is `<prefix>/<repo>`.
    pub fn track_manifest(&self, path: &str, digest: &str) {
        self.created()
            .manifests
            .push((path.to_owned(), digest.to_owned()));
    }

    /// Removes everything this env created. Runs on drop; never panics, reports what it could not remove.
    fn cleanup(&self) {
        let created = std::mem::take(&mut *self.created());
        let filter = format!("label={}", self.label_arg());
        let labelled = |list: &[&str], format: &str| {
            docker::list(&[list, &["--format", format, "--filter", &filter]].concat())
        };
        let mut problems = Vec::new();

        // Containers first: they hold images, networks and volumes. `-v` removes their anonymous volumes.
        let mut containers = created.containers;
        containers.extend(labelled(&["ps", "-a"], "{{.Names}}"));
        remove_all(&["rm", "-f", "-v"], &containers, &mut problems);

        let mut networks = created.networks;
        networks.extend(labelled(&["network", "ls"], "{{.Name}}"));
        remove_all(&["network", "rm"], &networks, &mut problems);

        let mut volumes = created.volumes;
        volumes.extend(labelled(&["volume", "ls"], "{{.Name}}"));
        remove_all(&["volume", "rm", "-f"], &volumes, &mut problems);

        // Tags first, then whatever still carries the label (images refit pulled by digest, say).
        remove_all(&["rmi"], &created.images, &mut problems);
        let leftover = labelled(&["images", "--no-trunc"], "{{.ID}}");
        remove_all(&["rmi", "-f"], &leftover, &mut problems);

        for (repository, digest) in &created.manifests {
            registry::delete_manifest(&self.registry, repository, digest);
        }
        if !problems.is_empty() {
            eprintln!(
                "TestEnv {} cleanup left:\n  {}",
                self.prefix,
                problems.join("\n  ")
            );
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Runs `docker <command> <each item>` in one call, then item by item if that fails, so one object
/// that is already gone does not keep the others. "No such ..." is not a problem.
fn remove_all(command: &[&str], items: &[String], problems: &mut Vec<String>) {
    let mut items: Vec<&str> = items.iter().map(String::as_str).collect();
    items.sort_unstable();
    items.dedup();
    if items.is_empty() || docker::try_docker(&[command, &items].concat()).is_ok() {
        return;
    }
    for item in items {
        if let Err(stderr) = docker::try_docker(&[command, &[item]].concat())
            && !docker::is_not_found(&stderr)
        {
            problems.push(format!("docker {} {item}: {stderr}", command.join(" ")));
        }
    }
}

/// Panics once per process with a clear message when the Docker engine does not answer.
fn check_engine() {
    static ENGINE: OnceLock<Result<String, String>> = OnceLock::new();
    let answer =
        ENGINE.get_or_init(|| docker::try_docker(&["version", "--format", "{{.Server.Version}}"]));
    if let Err(stderr) = answer {
        panic!("the Docker engine does not answer: run scripts/test-env.sh\n{stderr}");
    }
}

/// The last `::` segment of a test name, lowercased to `[a-z0-9-]`, at most 20 characters.
fn short_name(test_name: &str) -> String {
    let last = test_name.rsplit("::").next().unwrap_or(test_name);
    let mut short = String::new();
    for c in last.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            short.push(c);
        } else if !short.is_empty() && !short.ends_with('-') {
            short.push('-');
        }
    }
    short.truncate(20);
    let short = short.trim_end_matches('-');
    if short.is_empty() {
        "t".to_owned()
    } else {
        short.to_owned()
    }
}

/// Six hex digits from the process id, the clock and the std hasher's random seed.
fn random_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = RandomState::new().hash_one((std::process::id(), nanos));
    format!("{:06x}", hash & 0xff_ffff)
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names_are_valid_repository_components() {
        assert_eq!(short_name("harness_smoke::Run_And__Exec"), "run-and-exec");
        assert_eq!(
            short_name("a::very_long_test_name_beyond_twenty"),
            "very-long-test-name"
        );
        assert_eq!(short_name("::"), "t");
    }
}
