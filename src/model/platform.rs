//! Image platforms (`os/architecture/variant`) and how a local image's platform is matched
//! against the entries of a multi-arch index.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// Empty when the image does not name one.
    pub variant: String,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.to_string(),
        }
    }

    /// The variant a platform implies when it names none: arm64 is v8, arm is v7 (as
    /// containerd's platform matcher normalises them).
    fn effective_variant(&self) -> &str {
        match (self.architecture.as_str(), self.variant.as_str()) {
            ("arm64", "") => "v8",
            ("arm", "") => "v7",
            (_, v) => v,
        }
    }

    /// Whether an index entry for `other` is the manifest Docker would pick for an image of
    /// this platform. A variant only has to agree when both sides name one (amd64 entries
    /// rarely carry `v1`, local images rarely carry a variant at all).
    pub fn matches(&self, other: &Platform) -> bool {
        let (mine, theirs) = (self.effective_variant(), other.effective_variant());
        self.os == other.os
            && self.architecture == other.architecture
            && (mine.is_empty() || theirs.is_empty() || mine == theirs)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_with_implied_variants() {
        let amd64 = Platform::new("linux", "amd64", "");
        assert!(amd64.matches(&Platform::new("linux", "amd64", "v1")));
        assert!(!amd64.matches(&Platform::new("linux", "arm64", "")));
        assert!(!amd64.matches(&Platform::new("windows", "amd64", "")));
        let arm64 = Platform::new("linux", "arm64", "");
        assert!(arm64.matches(&Platform::new("linux", "arm64", "v8")));
        let armv7 = Platform::new("linux", "arm", "v7");
        assert!(armv7.matches(&Platform::new("linux", "arm", "")));
        assert!(!armv7.matches(&Platform::new("linux", "arm", "v6")));
    }

    #[test]
    fn displays_like_docker_platform_flag() {
        assert_eq!(
            Platform::new("linux", "arm", "v7").to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::new("linux", "amd64", "").to_string(),
            "linux/amd64"
        );
    }
}
