//! Facts observed about containers and their local images, converted once from the engine's
//! inspect answers. Everything the policy engine and planner read lives here.

use std::collections::BTreeMap;
use std::fmt;

use super::{Digest, ImageRef, Platform};

/// A container's full id, as the engine reports it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(pub String);

impl ContainerId {
    /// The 12-character form `docker ps` shows, which is also the default hostname.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(12)]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContainerId({})", self.short())
    }
}

/// What a container's `Config.Image` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A reference by name (with a tag, a digest or both).
    Reference(ImageRef),
    /// The container was created from an image id; there is nothing to look up.
    ImageId(String),
    /// `Config.Image` does not parse as a reference.
    Invalid { value: String, why: String },
}

impl ImageSource {
    /// Interpret `Config.Image`, telling image ids (`sha256:…` or a hex prefix of the
    /// container's image id) apart from references.
    pub fn parse(configured: &str, image_id: &Digest) -> ImageSource {
        let is_hex = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        if configured.starts_with("sha256:") && !configured.contains('@') {
            return ImageSource::ImageId(configured.to_string());
        }
        if configured.len() >= 12 && is_hex(configured) && image_id.hex().starts_with(configured) {
            return ImageSource::ImageId(configured.to_string());
        }
        match configured.parse::<ImageRef>() {
            Ok(reference) => ImageSource::Reference(reference),
            Err(e) => ImageSource::Invalid {
                value: configured.to_string(),
                why: e.to_string(),
            },
        }
    }

    pub fn reference(&self) -> Option<&ImageRef> {
        match self {
            ImageSource::Reference(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// Created, exited or dead: not running and not about to be.
    Stopped,
    Paused,
    Restarting,
}

/// How the container is attached to networks, from `HostConfig.NetworkMode`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkMode {
    /// `default` or `bridge`.
    Bridge,
    Host,
    None,
    /// Shares the network namespace of another container, named by id (as inspect shows it)
    /// or by name (as it was given at create).
    Container(String),
    /// A user-defined network, by name.
    Network(String),
}

impl NetworkMode {
    pub fn parse(mode: &str) -> NetworkMode {
        match mode {
            "" | "default" | "bridge" => NetworkMode::Bridge,
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            other => match other.strip_prefix("container:") {
                Some(target) => NetworkMode::Container(target.to_string()),
                None => NetworkMode::Network(other.to_string()),
            },
        }
    }
}

/// The facts about one container that policy and planning read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub id: ContainerId,
    /// Without Docker's leading slash.
    pub name: String,
    /// `Config.Image` exactly as the operator wrote it (kept for `docker ps`).
    pub configured_image: String,
    pub image: ImageSource,
    /// The local image the container runs.
    pub image_id: Digest,
    pub labels: BTreeMap<String, String>,
    pub state: RunState,
    pub network_mode: NetworkMode,
    /// Names of containers this one links to (`--link other:alias`).
    pub links: Vec<String>,
}

impl Container {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// The facts about one local image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalImage {
    pub id: Digest,
    /// `RepoDigests` as the engine lists them (`repo@sha256:…`).
    pub repo_digests: Vec<String>,
    pub platform: Platform,
    pub labels: BTreeMap<String, String>,
}

impl LocalImage {
    /// Every manifest digest the engine recorded for this image, whatever the repository.
    /// A digest names content, so a match under any repository means the same image.
    pub fn digests(&self) -> impl Iterator<Item = Digest> + '_ {
        self.repo_digests
            .iter()
            .filter_map(|rd| rd.rsplit_once('@').and_then(|(_, d)| d.parse().ok()))
    }

    pub fn has_digest(&self, digest: &Digest) -> bool {
        self.digests().any(|d| &d == digest)
    }

    /// The digest recorded for `reference`'s repository, else any recorded digest.
    pub fn digest_for(&self, reference: &ImageRef) -> Option<Digest> {
        let wanted = reference.name();
        let same_repo = self.repo_digests.iter().find_map(|rd| {
            let (repo, digest) = rd.rsplit_once('@')?;
            let repo: ImageRef = repo.parse().ok()?;
            (repo.name() == wanted)
                .then(|| digest.parse().ok())
                .flatten()
        });
        same_repo.or_else(|| self.digests().next())
    }
}

/// Everything observed in one pass: containers and the local images they run.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub containers: Vec<Container>,
    pub images: BTreeMap<Digest, LocalImage>,
    /// The local image each looked-up reference names now (for `refit.pull=false`, which
    /// acts on an image someone else pulled); its image is in `images` too.
    pub tags: BTreeMap<ImageRef, Digest>,
}

impl Snapshot {
    pub fn image_of(&self, container: &Container) -> Option<&LocalImage> {
        self.images.get(&container.image_id)
    }

    pub fn container_named(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Find a container by full id, id prefix or name, as the engine resolves `container:<x>`.
    pub fn find(&self, id_or_name: &str) -> Option<&Container> {
        self.containers
            .iter()
            .find(|c| c.id.0 == id_or_name || c.name == id_or_name)
            .or_else(|| {
                let mut prefixed = self
                    .containers
                    .iter()
                    .filter(|c| c.id.0.starts_with(id_or_name));
                match (prefixed.next(), prefixed.next()) {
                    (Some(one), None) if id_or_name.len() >= 4 => Some(one),
                    _ => None,
                }
            })
    }
}

/// Test fixtures as builders: `Container::test("web").image("nginx:1.27").with_label(k, v)`.
#[cfg(test)]
impl Container {
    pub fn test(name: &str) -> Container {
        let id = format!(
            "{:0<64}",
            name.bytes().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let image_id = crate::model::digest::test_digest(0x11);
        Container {
            id: ContainerId(id[..64].to_string()),
            name: name.to_string(),
            configured_image: "127.0.0.1:5000/app:1".into(),
            image: ImageSource::parse("127.0.0.1:5000/app:1", &image_id),
            image_id,
            labels: BTreeMap::new(),
            state: RunState::Running,
            network_mode: NetworkMode::Bridge,
            links: Vec::new(),
        }
    }

    pub fn with_label(mut self, key: &str, value: &str) -> Container {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    pub fn image(mut self, configured: &str) -> Container {
        self.configured_image = configured.to_string();
        self.image = ImageSource::parse(configured, &self.image_id);
        self
    }

    pub fn image_id(mut self, id: Digest) -> Container {
        self.image_id = id;
        self.image = ImageSource::parse(&self.configured_image, &self.image_id);
        self
    }

    pub fn network_mode(mut self, mode: &str) -> Container {
        self.network_mode = NetworkMode::parse(mode);
        self
    }

    pub fn links(mut self, names: &[&str]) -> Container {
        self.links = names.iter().map(|n| n.to_string()).collect();
        self
    }

    pub fn stopped(mut self) -> Container {
        self.state = RunState::Stopped;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::test_digest;

    #[test]
    fn image_source_tells_ids_from_references() {
        let id = test_digest(0xab);
        assert_eq!(
            ImageSource::parse(id.as_str(), &id),
            ImageSource::ImageId(id.to_string())
        );
        assert_eq!(
            ImageSource::parse(&id.hex()[..12], &id),
            ImageSource::ImageId(id.hex()[..12].to_string())
        );
        assert!(matches!(
            ImageSource::parse("nginx:1", &id),
            ImageSource::Reference(_)
        ));
        assert!(matches!(
            ImageSource::parse("Bad:", &id),
            ImageSource::Invalid { .. }
        ));
        // A 12-hex name that is not a prefix of the image id is a repository name.
        assert!(matches!(
            ImageSource::parse("abcdefabcdef", &id),
            ImageSource::Reference(_)
        ));
    }

    #[test]
    fn network_modes() {
        assert_eq!(NetworkMode::parse("default"), NetworkMode::Bridge);
        assert_eq!(
            NetworkMode::parse("container:abc"),
            NetworkMode::Container("abc".into())
        );
        assert_eq!(
            NetworkMode::parse("proj_default"),
            NetworkMode::Network("proj_default".into())
        );
    }

    #[test]
    fn local_image_digests() {
        let d1 = test_digest(1);
        let d2 = test_digest(2);
        let image = LocalImage {
            id: test_digest(9),
            repo_digests: vec![format!("127.0.0.1:5000/other@{d1}"), format!("nginx@{d2}")],
            platform: Platform::new("linux", "amd64", ""),
            labels: BTreeMap::new(),
        };
        assert!(image.has_digest(&d1) && image.has_digest(&d2));
        assert_eq!(
            image.digest_for(&"docker.io/library/nginx:1".parse().unwrap()),
            Some(d2)
        );
        assert_eq!(image.digest_for(&"ghcr.io/x/y".parse().unwrap()), Some(d1));
    }
}
