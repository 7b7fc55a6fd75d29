//! Fixture images: `FROM scratch` with busybox, described by an `ImageSpec`, built with `docker build`
//! (the legacy builder, so the busybox layer comes from the build cache) and pushed to a registry.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::TestEnv;
use super::docker::{docker_ok, try_docker};
use super::spec::ImageSpec;

/// The busybox applets linked under /bin.
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "sleep",
    "httpd",
    "wget",
    "cat",
    "echo",
    "ls",
    "touch",
    "mkdir",
    "env",
    "id",
    "hostname",
    "ip",
    "ps",
    "kill",
    "rm",
    "cp",
    "mv",
    "ln",
    "chmod",
    "chown",
    "stat",
    "grep",
    "sed",
    "head",
    "tail",
    "wc",
    "test",
    "[",
    "true",
    "false",
    "printf",
    "date",
    "nc",
    "pwd",
    "uname",
    "whoami",
    "mount",
    "df",
    "du",
    "find",
    "xargs",
    "tee",
    "cut",
    "sort",
    "uniq",
    "tr",
    "md5sum",
    "sha256sum",
    "nslookup",
    "ping",
    "ifconfig",
    "netstat",
    "readlink",
    "basename",
    "dirname",
    "seq",
    "expr",
    "timeout",
    "vi",
];

/// An image in a registry, as `build_image` pushed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedImage {
    /// `<registry>/<prefix>/<repo_suffix>:<tag>`.
    pub reference: String,
    /// `<registry>/<prefix>/<repo_suffix>`.
    pub repository: String,
    /// `<prefix>/<repo_suffix>`: the repository's path in the registry API.
    pub path: String,
    pub tag: String,
    /// The manifest digest the registry answers for the tag (`sha256:...`).
    pub digest: String,
    /// The image id (config digest), the same locally and once pulled.
    pub id: String,
}

impl PushedImage {
    /// `<repository>@<digest>`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

impl TestEnv {
    /// Builds an image from `spec`, pushes it to the shared registry as
    /// `<registry>/<prefix>/<repo_suffix>:<tag>`, and keeps the local copy (tagged so).
    pub fn build_image(&self, repo_suffix: &str, tag: &str, spec: &ImageSpec) -> PushedImage {
        self.build_image_on(&self.registry.clone(), repo_suffix, tag, spec)
    }

    /// `build_image` to another registry (a `CountingRegistry`'s address, say).
    pub fn build_image_on(
        &self,
        registry: &str,
        repo_suffix: &str,
        tag: &str,
        spec: &ImageSpec,
    ) -> PushedImage {
        let path = format!("{}/{repo_suffix}", self.prefix());
        let repository = format!("{registry}/{path}");
        let reference = format!("{repository}:{tag}");
        let id = self.build(&reference, spec);
        let digest = push(&reference);
        if registry == self.registry() {
            self.created()
                .manifests
                .push((path.clone(), digest.clone()));
        }
        PushedImage {
            reference,
            repository,
            path,
            tag: tag.to_owned(),
            digest,
            id,
        }
    }

    /// Publishes a new digest under `<repo_suffix>:<tag>` in the shared registry: `spec` plus a
    /// `/refit-version` file unique to this call. The local tag stays where it was (on the image a
    /// container runs, typically), and the new image is not kept locally, so pulling it is real.
    pub fn push_new_version(&self, repo_suffix: &str, tag: &str, spec: &ImageSpec) -> PushedImage {
        self.push_new_version_on(&self.registry.clone(), repo_suffix, tag, spec)
    }

    /// `push_new_version` to another registry.
    pub fn push_new_version_on(
        &self,
        registry: &str,
        repo_suffix: &str,
        tag: &str,
        spec: &ImageSpec,
    ) -> PushedImage {
        let reference = format!("{registry}/{}/{repo_suffix}:{tag}", self.prefix());
        let previous = try_docker(&["image", "inspect", "--format", "{{.Id}}", &reference]).ok();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let version = format!("{}-{nanos}\n", self.next_id());
        let spec = spec.clone().file("/refit-version", &version);
        let pushed = self.build_image_on(registry, repo_suffix, tag, &spec);
        match previous {
            Some(previous) => {
                docker_ok(&["tag", &previous, &reference]);
                docker_ok(&["rmi", &pushed.id]);
            }
            None => {
                docker_ok(&["rmi", &reference]);
            }
        }
        pushed
    }

    /// Publishes the local image `local` (built outside the harness, refit's own image say) as
    /// `<registry>/<prefix>/<repo_suffix>:<tag>`, keeping the local copy under that name too.
    pub fn push_local_image(&self, local: &str, repo_suffix: &str, tag: &str) -> PushedImage {
        let path = format!("{}/{repo_suffix}", self.prefix());
        let repository = format!("{}/{path}", self.registry());
        let reference = format!("{repository}:{tag}");
        self.track_image(&reference);
        docker_ok(&["tag", local, &reference]);
        let digest = push(&reference);
        self.created()
            .manifests
            .push((path.clone(), digest.clone()));
        let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference])
            .trim()
            .to_owned();
        PushedImage {
            reference,
            repository,
            path,
            tag: tag.to_owned(),
            digest,
            id,
        }
    }

    /// Publishes a new digest of `image`'s tag: `image` plus a label, built `FROM` it (no pull:
    /// the base is local). As with `push_new_version`, the local tag stays on `image`.
    pub fn push_relabelled(&self, image: &PushedImage, label: &str) -> PushedImage {
        let context = self.build_context();
        let n = self.next_id();
        let dockerfile = context.join(format!("Dockerfile-relabel-{n}"));
        fs::write(
            &dockerfile,
            format!(
                "FROM {}\nLABEL {label} {}={}\n",
                image.id,
                super::TEST_LABEL,
                self.prefix()
            ),
        )
        .unwrap();
        let new_id = docker_ok(&[
            "build",
            "-q",
            "-f",
            dockerfile.to_str().expect("a UTF-8 temp dir"),
            "-t",
            &image.reference,
            context.to_str().expect("a UTF-8 temp dir"),
        ])
        .trim()
        .to_owned();
        let digest = push(&image.reference);
        self.created()
            .manifests
            .push((image.path.clone(), digest.clone()));
        docker_ok(&["tag", &image.id, &image.reference]);
        PushedImage {
            id: new_id,
            digest,
            ..image.clone()
        }
    }

    /// Removes the local copy of a pushed image (its tag; the image too when nothing else holds
    /// it), so that a later pull really fetches it.
    pub fn remove_local_image(&self, image: &PushedImage) {
        docker_ok(&["rmi", &image.reference]);
    }

    /// Builds `spec` as `reference`; returns the image id.
    fn build(&self, reference: &str, spec: &ImageSpec) -> String {
        self.track_image(reference);
        let context = self.build_context();
        let n = self.next_id();
        let files = context.join(format!("files-{n}"));
        for (path, contents) in spec.files() {
            let target = files.join(path.trim_start_matches('/'));
            fs::create_dir_all(target.parent().expect("a file path has a parent")).unwrap();
            fs::write(&target, contents).unwrap();
        }
        let dockerfile = context.join(format!("Dockerfile-{n}"));
        let text = spec
            .dockerfile(self.prefix())
            .replace("COPY files/", &format!("COPY files-{n}/"));
        fs::write(&dockerfile, &text).unwrap();
        let context = context.to_str().expect("a UTF-8 temp dir");
        let dockerfile = dockerfile.to_str().expect("a UTF-8 temp dir");
        let args = [
            "build",
            "-q",
            "--force-rm",
            "-f",
            dockerfile,
            "-t",
            reference,
            context,
        ];
        // Another test removing its images can prune the cached busybox layer image while this build
        // starts from it: building again then succeeds.
        let mut last = String::new();
        for _ in 0..3 {
            match try_docker(&args) {
                Ok(id) => return id,
                Err(stderr) => last = stderr,
            }
        }
        panic!("docker build of {reference} failed:\n{last}\nDockerfile:\n{text}");
    }

    /// The env's build context: `rootfs/` (busybox and its links) is made once; each build adds its
    /// own `files-N/` and `Dockerfile-N`.
    fn build_context(&self) -> &Path {
        self.build_context.get_or_init(|| {
            let context = self.dir().join("build");
            make_rootfs(&context.join("rootfs")).expect("make the busybox rootfs");
            context
        })
    }
}

fn make_rootfs(root: &Path) -> std::io::Result<()> {
    let dirs: [(&str, u32); 5] = [
        ("bin", 0o755),
        ("etc", 0o755),
        ("root", 0o700),
        ("tmp", 0o1777),
        ("home", 0o755),
    ];
    for (dir, mode) in dirs {
        fs::create_dir_all(root.join(dir))?;
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(mode))?;
    }
    let busybox = root.join("bin/busybox");
    fs::copy("/usr/bin/busybox", &busybox).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("/usr/bin/busybox (scripts/test-env.sh installs it): {e}"),
        )
    })?;
    fs::set_permissions(&busybox, fs::Permissions::from_mode(0o755))?;
    for applet in APPLETS {
        symlink("busybox", root.join("bin").join(applet))?;
    }
    let files: [(&str, &str); 2] = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n"),
    ];
    for (path, contents) in files {
        fs::write(root.join(path), contents)?;
        fs::set_permissions(root.join(path), fs::Permissions::from_mode(0o644))?;
    }
    Ok(())
}

/// Pushes `reference` and returns the manifest digest the registry gave it.
fn push(reference: &str) -> String {
    let host = reference.split('/').next().unwrap_or_default();
    let out = match super::registry::docker_config_for(host) {
        Some(config) => docker_ok(&[
            "--config",
            config.to_str().expect("a UTF-8 path"),
            "push",
            reference,
        ]),
        None => docker_ok(&["push", reference]),
    };
    // The last line reads `<tag>: digest: sha256:<hex> size: <n>`.
    let from_output = out
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1);
    match from_output {
        Some(digest) if digest.starts_with("sha256:") => digest.to_owned(),
        _ => repo_digest(reference)
            .unwrap_or_else(|| panic!("no digest for {reference} in the push output:\n{out}")),
    }
}

/// The digest in the image's `RepoDigests` for the reference's repository.
fn repo_digest(reference: &str) -> Option<String> {
    let repository = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
    let digests = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        reference,
    ]);
    let digests: Vec<String> = serde_json::from_str(&digests).ok()?;
    digests
        .iter()
        .find_map(|d| d.strip_prefix(&format!("{repository}@")).map(str::to_owned))
}
