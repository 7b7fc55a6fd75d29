//! Content digests (`sha256:<hex>`) as a validated newtype.

use std::fmt;
use std::str::FromStr;

/// A content digest such as `sha256:3f2a…`, validated on construction.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {0:?}: expected <algorithm>:<hex>, e.g. sha256 with 64 hex digits")]
pub struct DigestError(pub String);

impl Digest {
    /// The digest as written, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm part, e.g. `sha256`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// The first 12 hex digits, as `docker` shows ids.
    pub fn short(&self) -> &str {
        let hex = self.hex();
        &hex[..hex.len().min(12)]
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DigestError(s.to_string());
        let (algorithm, hex) = s.split_once(':').ok_or_else(bad)?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
        let hex_ok = hex.len() >= 32
            && hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let length_ok = match algorithm {
            "sha256" => hex.len() == 64,
            "sha512" => hex.len() == 128,
            _ => true,
        };
        if algorithm_ok && hex_ok && length_ok {
            Ok(Digest(s.to_string()))
        } else {
            Err(bad())
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) fn test_digest(seed: u8) -> Digest {
    format!("sha256:{}", format!("{seed:02x}").repeat(32))
        .parse()
        .expect("valid test digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sha256_and_shortens() {
        let d: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.short(), "abababababab");
        assert_eq!(d.to_string(), format!("sha256:{}", "ab".repeat(32)));
    }

    #[test]
    fn rejects_malformed_digests() {
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:abc",
            &format!("sha256:{}", "AB".repeat(32)),
            &format!(":{}", "ab".repeat(32)),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} should be rejected");
        }
    }
}
