//! `ImageSpec`: what a fixture image holds besides busybox (config and files), and the Dockerfile
//! that says it. No IO.

use std::fmt::Write as _;

use super::TEST_LABEL;

/// Stops at once on SIGTERM (busybox sh as PID 1 ignores signals it has no trap for).
const DEFAULT_CMD: &[&str] = &["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"];

/// What goes into a fixture image besides busybox. A builder: `ImageSpec::new().env("A", "1")`.
///
/// Defaults: CMD `sh -c "trap 'exit 0' TERM; sleep 3600 & wait"`, nothing else set.
#[derive(Clone, Debug, Default)]
pub struct ImageSpec {
    env: Vec<(String, String)>,
    labels: Vec<(String, String)>,
    /// `None`: the default command; `Some(empty)`: no CMD at all.
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    workdir: Option<String>,
    user: Option<String>,
    expose: Vec<String>,
    volumes: Vec<String>,
    healthcheck: Option<Healthcheck>,
    stop_signal: Option<String>,
    files: Vec<(String, String)>,
}

/// An image HEALTHCHECK. Defaults: interval 1s, timeout 2s, retries 3.
#[derive(Clone, Debug)]
pub struct Healthcheck {
    /// `None`: `HEALTHCHECK NONE`.
    test: Option<Vec<String>>,
    interval: String,
    timeout: String,
    retries: u32,
    start_period: Option<String>,
}

impl ImageSpec {
    pub fn new() -> ImageSpec {
        ImageSpec::default()
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The CMD, exec form; an empty slice means no CMD.
    pub fn cmd(mut self, cmd: &[&str]) -> Self {
        self.cmd = Some(strings(cmd));
        self
    }

    pub fn entrypoint(mut self, entrypoint: &[&str]) -> Self {
        self.entrypoint = Some(strings(entrypoint));
        self
    }

    pub fn workdir(mut self, dir: &str) -> Self {
        self.workdir = Some(dir.to_owned());
        self
    }

    pub fn user(mut self, user: &str) -> Self {
        self.user = Some(user.to_owned());
        self
    }

    /// A port, e.g. `80` or `53/udp`.
    pub fn expose(mut self, port: &str) -> Self {
        self.expose.push(port.to_owned());
        self
    }

    pub fn volume(mut self, path: &str) -> Self {
        self.volumes.push(path.to_owned());
        self
    }

    pub fn healthcheck(mut self, healthcheck: Healthcheck) -> Self {
        self.healthcheck = Some(healthcheck);
        self
    }

    /// e.g. `SIGINT`.
    pub fn stop_signal(mut self, signal: &str) -> Self {
        self.stop_signal = Some(signal.to_owned());
        self
    }

    /// `/payload` with these contents: a different payload gives a different digest.
    pub fn payload(self, contents: &str) -> Self {
        self.file("/payload", contents)
    }

    /// A file at an absolute path in the image (mode 0644), in a layer above busybox.
    pub fn file(mut self, path: &str, contents: &str) -> Self {
        assert!(
            path.starts_with('/') && !path.contains(".."),
            "not an absolute path: {path}"
        );
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_owned(), contents.to_owned()));
        self
    }

    /// The files to put in the image: (absolute path, contents).
    pub(super) fn files(&self) -> &[(String, String)] {
        &self.files
    }

    /// The Dockerfile. `test_label` comes right after busybox so that only that layer is shared
    /// between tests (it is the build-cache hit).
    pub(super) fn dockerfile(&self, test_label: &str) -> String {
        let mut out = String::from("FROM scratch\nCOPY rootfs/ /\n");
        let mut labels = vec![(TEST_LABEL.to_owned(), test_label.to_owned())];
        labels.extend(self.labels.iter().cloned());
        // Few instructions: each is a step with a container of its own in the legacy builder.
        writeln!(out, "LABEL {}", pairs(&labels)).unwrap();
        if !self.files.is_empty() {
            out.push_str("COPY files/ /\n");
        }
        if !self.env.is_empty() {
            writeln!(out, "ENV {}", pairs(&self.env)).unwrap();
        }
        if let Some(dir) = &self.workdir {
            writeln!(out, "WORKDIR {}", quote(dir)).unwrap();
        }
        if let Some(user) = &self.user {
            writeln!(out, "USER {user}").unwrap();
        }
        if !self.expose.is_empty() {
            writeln!(out, "EXPOSE {}", self.expose.join(" ")).unwrap();
        }
        if !self.volumes.is_empty() {
            writeln!(out, "VOLUME {}", json(&self.volumes)).unwrap();
        }
        if let Some(healthcheck) = &self.healthcheck {
            writeln!(out, "HEALTHCHECK {}", healthcheck.instruction()).unwrap();
        }
        if let Some(signal) = &self.stop_signal {
            writeln!(out, "STOPSIGNAL {signal}").unwrap();
        }
        if let Some(entrypoint) = &self.entrypoint {
            writeln!(out, "ENTRYPOINT {}", json(entrypoint)).unwrap();
        }
        let cmd = self.cmd.clone().unwrap_or_else(|| strings(DEFAULT_CMD));
        if !cmd.is_empty() {
            writeln!(out, "CMD {}", json(&cmd)).unwrap();
        }
        out
    }
}

impl Healthcheck {
    /// `HEALTHCHECK CMD ["arg", ...]` (exec form).
    pub fn cmd(test: &[&str]) -> Healthcheck {
        Healthcheck {
            test: Some(strings(test)),
            interval: "1s".to_owned(),
            timeout: "2s".to_owned(),
            retries: 3,
            start_period: None,
        }
    }

    /// `HEALTHCHECK CMD ["sh", "-c", script]`.
    pub fn shell(script: &str) -> Healthcheck {
        Healthcheck::cmd(&["sh", "-c", script])
    }

    /// `HEALTHCHECK NONE`: turns off a healthcheck inherited from a base image.
    pub fn none() -> Healthcheck {
        Healthcheck {
            test: None,
            ..Healthcheck::cmd(&[])
        }
    }

    /// e.g. `500ms`, `2s`.
    pub fn interval(mut self, interval: &str) -> Self {
        self.interval = interval.to_owned();
        self
    }

    pub fn timeout(mut self, timeout: &str) -> Self {
        self.timeout = timeout.to_owned();
        self
    }

    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    pub fn start_period(mut self, period: &str) -> Self {
        self.start_period = Some(period.to_owned());
        self
    }

    fn instruction(&self) -> String {
        let Some(test) = &self.test else {
            return "NONE".to_owned();
        };
        let mut out = format!(
            "--interval={} --timeout={} --retries={}",
            self.interval, self.timeout, self.retries
        );
        if let Some(period) = &self.start_period {
            write!(out, " --start-period={period}").unwrap();
        }
        write!(out, " CMD {}", json(test)).unwrap();
        out
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn json(items: &[String]) -> String {
    serde_json::to_string(items).expect("strings serialize")
}

/// `k="v" k2="v2"`, values quoted for a Dockerfile.
fn pairs(pairs: &[(String, String)]) -> String {
    let words: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let plain = k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
            assert!(
                plain && !k.is_empty(),
                "an ENV or LABEL key must be plain: {k:?}"
            );
            format!("{k}={}", quote(v))
        })
        .collect();
    words.join(" ")
}

/// A Dockerfile double-quoted word: `\`, `"` and `$` escaped (no variable expansion).
fn quote(word: &str) -> String {
    assert!(
        !word.contains('\n'),
        "a Dockerfile value cannot hold a newline: {word:?}"
    );
    let mut out = String::from("\"");
    for c in word.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::{Healthcheck, ImageSpec};

    #[test]
    fn dockerfile_holds_every_field() {
        let spec = ImageSpec::new()
            .env("A", "1 \"two\" $HOME")
            .label("org.opencontainers.image.version", "1.2.3")
            .entrypoint(&["sh", "-c"])
            .cmd(&["echo hi"])
            .workdir("/srv")
            .user("app")
            .expose("80")
            .expose("53/udp")
            .volume("/data")
            .healthcheck(Healthcheck::shell("true").interval("500ms"))
            .stop_signal("SIGINT")
            .payload("v1");
        let expected = r#"FROM scratch
COPY rootfs/ /
LABEL refit.test="p" org.opencontainers.image.version="1.2.3"
COPY files/ /
ENV A="1 \"two\" \$HOME"
WORKDIR "/srv"
USER app
EXPOSE 80 53/udp
VOLUME ["/data"]
HEALTHCHECK --interval=500ms --timeout=2s --retries=3 CMD ["sh","-c","true"]
STOPSIGNAL SIGINT
ENTRYPOINT ["sh","-c"]
CMD ["echo hi"]
"#;
        assert_eq!(spec.dockerfile("p"), expected);
    }

    #[test]
    fn default_dockerfile_has_the_sigterm_friendly_cmd() {
        let text = ImageSpec::new().dockerfile("p");
        assert!(
            text.ends_with("CMD [\"sh\",\"-c\",\"trap 'exit 0' TERM; sleep 3600 & wait\"]\n"),
            "{text}"
        );
        assert!(!ImageSpec::new().cmd(&[]).dockerfile("p").contains("CMD"));
    }
}
