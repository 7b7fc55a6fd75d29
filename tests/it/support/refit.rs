//! Running the refit binary under test, hermetically: its config file, state, HOME and DOCKER_CONFIG
//! live in the test's temp dir, and it runs scoped to the test's containers.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TestEnv;

/// How long a one-shot refit command may take before the harness kills it and fails the test.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished refit run printed.
pub struct RefitRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl RefitRun {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics, showing the output, unless the exit code is `code`.
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            Some(code),
            "unexpected exit status of refit\n{self}"
        );
        self
    }

    /// stdout parsed as one JSON value; panics showing stdout and stderr when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("refit's stdout is not JSON ({e})\n{self}"))
    }

    /// The entry of `containers` in the JSON report whose `name` is `name`; panics when absent.
    pub fn container(&self, name: &str) -> Value {
        let report = self.json();
        let containers = report["containers"]
            .as_array()
            .unwrap_or_else(|| panic!("no `containers` array in the report\n{self}"));
        containers
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("container {name} is not in the report\n{self}"))
    }
}

impl fmt::Display for RefitRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl fmt::Debug for RefitRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A refit invocation being prepared: `env.refit_command(&["check", "--json"]).env("K", "v").run()`.
pub struct RefitCommand<'a> {
    env: &'a TestEnv,
    args: Vec<String>,
    vars: Vec<(String, Option<String>)>,
    scoped: bool,
    timeout: Duration,
}

impl<'a> RefitCommand<'a> {
    /// Sets a variable in refit's environment.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.vars.push((key.to_owned(), Some(value.to_owned())));
        self
    }

    /// Removes a variable the harness would set (`REFIT_STATE_PATH`, say).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.vars.push((key.to_owned(), None));
        self
    }

    /// Runs without `REFIT_POLICY_SCOPE=<prefix>`, for tests of scopes themselves. Such a refit sees
    /// every unscoped container on the engine, other tests' and the developer's: name the test's
    /// containers on its command line when it may change anything.
    pub fn unscoped(mut self) -> Self {
        self.scoped = false;
        self
    }

    /// How long `run` waits before killing refit and failing (default 120 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let env = self.env;
        let home = env.dir().join("home");
        let state = env.dir().join("state");
        for dir in [home.join(".docker"), state.clone()] {
            fs::create_dir_all(&dir).expect("create refit's dirs");
        }
        let config = env.config_path();
        if !config.exists() {
            env.write_config("");
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_refit"));
        command.arg("--config").arg(&config).args(&self.args);
        // The developer's own settings and credentials never reach the binary under test.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if key.starts_with("REFIT_") || key.starts_with("WATCHTOWER_") {
                command.env_remove(&*key);
            }
        }
        command
            .env("HOME", &home)
            .env("DOCKER_CONFIG", home.join(".docker"));
        command.env("REFIT_STATE_PATH", state.join("refit.db"));
        // The health gate's default 10 s wait would add up over the suite; gate tests set theirs.
        command.env("REFIT_HEALTH_WAIT", "1s");
        if self.scoped {
            command.env("REFIT_POLICY_SCOPE", env.prefix());
        }
        for (key, value) in &self.vars {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs refit to its end (at most the timeout) and returns what it printed.
    pub fn run(self) -> RefitRun {
        let timeout = self.timeout;
        let mut process = self.spawn();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = process.child.try_wait().expect("wait for refit") {
                return process.collect(status);
            }
            if Instant::now() > deadline {
                let _ = process.child.kill();
                let status = process.child.wait().expect("wait for refit");
                panic!(
                    "refit did not finish within {timeout:?}; killed\n{}",
                    process.collect(status)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts refit (`run`, the daemon, say) and returns at once; see `RefitProcess`.
    pub fn spawn(self) -> RefitProcess {
        let mut child = self
            .command()
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", env!("CARGO_BIN_EXE_refit")));
        let stdout = reader(child.stdout.take().expect("piped stdout"));
        let stderr = reader(child.stderr.take().expect("piped stderr"));
        RefitProcess {
            child,
            output: Some((stdout, stderr)),
        }
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A running refit. `stop` sends SIGTERM and returns the run; dropping it kills the process.
pub struct RefitProcess {
    child: Child,
    output: Option<(JoinHandle<String>, JoinHandle<String>)>,
}

impl RefitProcess {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM, waits up to `timeout` for the exit (then kills it), returns the run.
    pub fn stop(self, timeout: Duration) -> RefitRun {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
        self.exit_within(timeout, " of SIGTERM")
    }

    /// Waits up to `timeout` for refit to end by itself (then kills it and panics).
    pub fn wait(self, timeout: Duration) -> RefitRun {
        self.exit_within(timeout, "")
    }

    /// The run once refit exits, within `timeout`; past it refit is killed and the test fails,
    /// saying `what` it waited after.
    fn exit_within(mut self, timeout: Duration, what: &str) -> RefitRun {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for refit") {
                return self.collect(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for refit");
        panic!(
            "refit did not exit within {timeout:?}{what}; killed\n{}",
            self.collect(status)
        );
    }

    /// `kill -9`: no chance to clean up, as a crash or a host reboot. Returns the run.
    pub fn kill(mut self) -> RefitRun {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for refit");
        self.collect(status)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn collect(&mut self, status: ExitStatus) -> RefitRun {
        let (stdout, stderr) = self.output.take().expect("output collected once");
        RefitRun {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        }
    }
}

impl Drop for RefitProcess {
    fn drop(&mut self) {
        if self.output.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl TestEnv {
    /// Where `write_config` writes, and what `refit` passes as `--config`.
    pub fn config_path(&self) -> PathBuf {
        self.dir().join("refit.toml")
    }

    /// Writes refit's config file (replacing any earlier one) and returns its path.
    pub fn write_config(&self, toml: &str) -> PathBuf {
        let path = self.config_path();
        fs::write(&path, toml).expect("write refit.toml");
        path
    }

    /// Runs `refit --config <config> ARGS` to its end: see `refit_command` for the environment.
    pub fn refit(&self, args: &[&str]) -> RefitRun {
        self.refit_command(args).run()
    }

    /// A refit invocation to adjust before running. By default: `--config` the file of
    /// `write_config` (an empty one when the test wrote none); `HOME` and `DOCKER_CONFIG` in the
    /// temp dir; `REFIT_STATE_PATH` in the temp dir; `REFIT_HEALTH_WAIT=1s`; `REFIT_POLICY_SCOPE=<prefix>` (the scope
    /// `run` gives containers); no other `REFIT_*` or `WATCHTOWER_*` variable from the caller.
    /// Environment variables override the config file, so a test setting `scope` or `state.path`
    /// there uses `unscoped()` or `env_remove("REFIT_STATE_PATH")`.
    pub fn refit_command(&self, args: &[&str]) -> RefitCommand<'_> {
        RefitCommand {
            env: self,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            vars: Vec::new(),
            scoped: true,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}
