//! Image references, normalised the way Docker does it: `nginx` is
//! `docker.io/library/nginx:latest`, a first component with a dot, a colon or `localhost`
//! is a registry host.

use std::fmt;
use std::str::FromStr;

use super::digest::{Digest, DigestError};

/// The registry Docker assumes when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
const DEFAULT_TAG: &str = "latest";

/// A normalised image reference: registry host, repository path, and a tag, a digest or both.
///
/// Two references that Docker treats as the same image compare equal (`nginx`,
/// `library/nginx:latest` and `docker.io/library/nginx` are one reference).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageRefError {
    #[error("empty image reference")]
    Empty,
    #[error("invalid image reference {reference:?}: {why}")]
    Invalid {
        reference: String,
        why: &'static str,
    },
    #[error("invalid image reference: {0}")]
    Digest(#[from] DigestError),
}

impl ImageRef {
    /// Registry host as it appears in the normalised reference (`docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path within the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository at another digest, without a tag: what a pull by digest names.
    pub fn at_digest(&self, digest: &Digest) -> ImageRef {
        ImageRef {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }

    /// The same repository at another tag.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// True when the host is a loopback address, which Docker and refit allow over plain HTTP.
    pub fn is_loopback_registry(&self) -> bool {
        let host = host_without_port(&self.registry);
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// The host part of `host[:port]`, aware of bracketed IPv6 literals.
pub fn host_without_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(h, _)| h);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

/// `written` (a reference as an operator spelt it, `nginx:1.2`) with its tag changed to `tag`,
/// keeping the rest of the spelling (`nginx:1.3`, not `docker.io/library/nginx:1.3`), so that
/// `docker ps` reads as the operator would have written it. Unchanged when `written` already
/// names `tag`, implicitly or not (`nginx` stays `nginx` for `latest`).
pub fn with_written_tag(written: &str, tag: &str) -> String {
    if written
        .parse::<ImageRef>()
        .is_ok_and(|r| r.tag() == Some(tag))
    {
        return written.to_string();
    }
    let (name, digest) = match written.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (written, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let bare = match name[last_slash..].rfind(':') {
        Some(i) => &name[..last_slash + i],
        None => name,
    };
    match digest {
        Some(digest) => format!("{bare}:{tag}@{digest}"),
        None => format!("{bare}:{tag}"),
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |why| ImageRefError::Invalid {
            reference: input.to_string(),
            why,
        };
        if input.is_empty() {
            return Err(ImageRefError::Empty);
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.parse::<Digest>()?)),
            None => (input, None),
        };
        // A tag is a colon after the last slash; a colon before it belongs to a host:port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(
                "a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with . or -",
            ));
        }
        let (registry, repository) = split_registry(name);
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry.to_string()
        };
        if registry.is_empty() || registry.contains(char::is_whitespace) {
            return Err(invalid("bad registry host"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        if !repository.split('/').all(valid_path_component) {
            return Err(invalid(
                "a repository path is lowercase letters, digits and single separators (. _ __ -)",
            ));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// Docker's rule: the first component is a registry host when it contains `.` or `:`, is
/// `localhost`, or has an uppercase letter (repositories never do).
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DOCKER_HUB, name),
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && tag.len() <= 128 && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator: String = bytes[start..i].iter().collect();
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.chars().all(|c| c == '-');
        if !ok {
            return false;
        }
    }
    true
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageRef({self})")
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.parse::<ImageRef>().unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let cases = [
            ("nginx", "docker.io/library/nginx:latest".to_string()),
            ("nginx:1.27", "docker.io/library/nginx:1.27".to_string()),
            (
                "library/nginx",
                "docker.io/library/nginx:latest".to_string(),
            ),
            (
                "docker.io/nginx",
                "docker.io/library/nginx:latest".to_string(),
            ),
            (
                "index.docker.io/library/nginx:1",
                "docker.io/library/nginx:1".to_string(),
            ),
            ("bitnami/redis:7", "docker.io/bitnami/redis:7".to_string()),
            ("ghcr.io/acme/app", "ghcr.io/acme/app:latest".to_string()),
            ("127.0.0.1:5000/app:v2", "127.0.0.1:5000/app:v2".to_string()),
            ("localhost/app", "localhost/app:latest".to_string()),
            (
                "localhost:5000/a/b/c:1-alpine",
                "localhost:5000/a/b/c:1-alpine".to_string(),
            ),
            (
                &format!("nginx@{digest}"),
                format!("docker.io/library/nginx@{digest}"),
            ),
            (
                &format!("nginx:1.27@{digest}"),
                format!("docker.io/library/nginx:1.27@{digest}"),
            ),
            ("[::1]:5000/app", "[::1]:5000/app:latest".to_string()),
        ];
        for (input, expected) in cases {
            assert_eq!(norm(input), expected, "normalising {input}");
        }
    }

    #[test]
    fn splits_parts() {
        let r: ImageRef = "127.0.0.1:5000/team/app:1.2".parse().unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/app");
        assert_eq!(r.tag(), Some("1.2"));
        assert_eq!(r.name(), "127.0.0.1:5000/team/app");
        assert!(r.is_loopback_registry());
        assert!(
            !"ghcr.io/a/b"
                .parse::<ImageRef>()
                .unwrap()
                .is_loopback_registry()
        );
        assert!(
            "localhost:5000/a"
                .parse::<ImageRef>()
                .unwrap()
                .is_loopback_registry()
        );
    }

    #[test]
    fn equal_when_docker_would_treat_them_alike() {
        let a: ImageRef = "nginx".parse().unwrap();
        let b: ImageRef = "docker.io/library/nginx:latest".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn at_digest_drops_the_tag() {
        let d = crate::model::digest::test_digest(7);
        let r: ImageRef = "nginx:1.27".parse().unwrap();
        assert_eq!(
            r.at_digest(&d).to_string(),
            format!("docker.io/library/nginx@{d}")
        );
    }

    #[test]
    fn written_tags_change_and_the_spelling_stays() {
        let cases = [
            ("nginx:1.2", "1.3", "nginx:1.3"),
            ("nginx", "latest", "nginx"),
            ("nginx", "1.3", "nginx:1.3"),
            (
                "127.0.0.1:5000/a/b:1.2-alpine",
                "1.3-alpine",
                "127.0.0.1:5000/a/b:1.3-alpine",
            ),
            ("localhost:5000/app", "2", "localhost:5000/app:2"),
            (
                "docker.io/library/nginx:1.2",
                "1.2",
                "docker.io/library/nginx:1.2",
            ),
        ];
        for (written, tag, expected) in cases {
            assert_eq!(
                with_written_tag(written, tag),
                expected,
                "{written} -> {tag}"
            );
        }
    }

    #[test]
    fn rejects_invalid_references() {
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-bad",
            "a//b",
            "nginx@sha256:short",
        ] {
            assert!(
                bad.parse::<ImageRef>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
