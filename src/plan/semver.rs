//! Choosing a container's next tag under a semver strategy (`refit.update=semver-*`): pure
//! string work over a repository's tag list, which `observe` fetched, and the reference (or
//! the decision) that follows for the container. No IO here.
//!
//! A tag is read as `[v]N(.N)*[-suffix]`: up to four numeric components, then an optional
//! suffix whose segments are a pre-release marker (`rc1`, `rc.1`, `beta`, `alpha.2`, `pre`,
//! `dev`, `preview`, ...) and a flavour (`alpine`, `bookworm`). A candidate must have the current
//! tag's `v`, precision and flavour, so that `1.2-alpine` moves to `1.3-alpine` and never to
//! `1.3` or `1.3-bookworm`.
//!
//! The `semver` crate is not used: it needs exactly three components, and its pre-release order
//! is lexical (`rc10` before `rc2`), which is wrong for the tags images carry.

use std::cmp::Ordering;

use super::Decision;
use crate::model::{ImageRef, ResolveFailure, TagLists};
use crate::policy::{Policy, Strategy, TagPattern};

/// More numeric components than this is a build number or a date, not a version.
const MAX_PRECISION: usize = 4;

/// Pre-release markers with their rank: a later stage sorts after an earlier one. Longer
/// spellings come before their prefixes (`preview` before `pre`) so the longest wins.
const PRE_RELEASES: &[(&str, u8)] = &[
    ("snapshot", 0),
    ("nightly", 0),
    ("canary", 0),
    ("dev", 0),
    ("alpha", 1),
    ("beta", 2),
    ("preview", 3),
    ("pre", 3),
    ("rc", 4),
];

/// A tag read as a version.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TagVersion {
    /// A leading `v` or `V`, kept exactly: a repository may publish both spellings.
    v: Option<char>,
    numbers: Vec<u64>,
    pre: Option<PreRelease>,
    /// The suffix without its pre-release marker (`alpine`), compared exactly; `""`: none.
    flavour: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PreRelease {
    rank: u8,
    numbers: Vec<u64>,
}

impl TagVersion {
    fn parse(tag: &str) -> Option<TagVersion> {
        let (v, rest) = match tag.strip_prefix(['v', 'V']) {
            Some(rest) => (tag.chars().next(), rest),
            None => (None, tag),
        };
        let core_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (core, suffix) = rest.split_at(core_end);
        let numbers = core
            .split('.')
            .map(|n| {
                if n.is_empty() {
                    None
                } else {
                    n.parse::<u64>().ok()
                }
            })
            .collect::<Option<Vec<u64>>>()?;
        if numbers.len() > MAX_PRECISION {
            return None;
        }
        let (pre, flavour) = match suffix {
            "" => (None, String::new()),
            s => split_suffix(s.strip_prefix('-').filter(|s| !s.is_empty())?),
        };
        Some(TagVersion {
            v,
            numbers,
            pre,
            flavour,
        })
    }

    /// Whether `other` is a candidate for a container on `self`: the same spelling rules.
    fn same_shape(&self, other: &TagVersion) -> bool {
        self.v == other.v
            && self.numbers.len() == other.numbers.len()
            && self.flavour == other.flavour
    }

    /// Whether `other` stays within the step `strategy` allows from `self`.
    fn within_step(&self, other: &TagVersion, strategy: Strategy) -> bool {
        let fixed = match strategy {
            Strategy::SemverPatch => 2,
            Strategy::SemverMinor => 1,
            _ => 0,
        };
        let fixed = fixed.min(self.numbers.len());
        self.numbers[..fixed] == other.numbers[..fixed]
    }

    /// Release order: numbers, then a release after any of its pre-releases.
    fn order(&self, other: &TagVersion) -> Ordering {
        self.numbers
            .cmp(&other.numbers)
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

/// Splits the suffix after `-` into its pre-release marker (the first segment that is one,
/// with a purely numeric segment right after it, as in `rc-2`) and the flavour (the rest).
fn split_suffix(suffix: &str) -> (Option<PreRelease>, String) {
    let segments: Vec<&str> = suffix.split('-').collect();
    let mut pre = None;
    let mut flavour: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < segments.len() {
        let segment = segments[i];
        match pre_release(segment).filter(|_| pre.is_none()) {
            Some(mut found) => {
                if found.numbers.is_empty()
                    && let Some(n) = segments.get(i + 1).and_then(|s| numeric(s))
                {
                    found.numbers = n;
                    i += 1;
                }
                pre = Some(found);
            }
            None => flavour.push(segment),
        }
        i += 1;
    }
    (pre, flavour.join("-"))
}

/// `rc1`, `rc.1`, `RC2`, `beta`, `alpha.2`, `preview3`: a marker, then numbers or nothing.
fn pre_release(segment: &str) -> Option<PreRelease> {
    let lower = segment.to_ascii_lowercase();
    PRE_RELEASES.iter().find_map(|(word, rank)| {
        let rest = lower.strip_prefix(word)?;
        let rest = rest.strip_prefix('.').unwrap_or(rest);
        let numbers = if rest.is_empty() {
            Vec::new()
        } else {
            numeric(rest)?
        };
        Some(PreRelease {
            rank: *rank,
            numbers,
        })
    })
}

/// `1`, `1.2`: digits separated by dots.
fn numeric(text: &str) -> Option<Vec<u64>> {
    text.split('.')
        .map(|n| {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                n.parse().ok()
            }
        })
        .collect()
}

/// Whether `tag` reads as a version at all (else a semver strategy has nothing to compare).
pub fn is_version(tag: &str) -> bool {
    TagVersion::parse(tag).is_some()
}

/// The skip reason for a container whose tag a semver strategy cannot read.
pub fn not_a_version(tag: &str, strategy: Strategy) -> String {
    format!(
        "tag \"{tag}\" is not a version (refit.update={})",
        strategy.as_str()
    )
}

/// The highest tag of `tags` a container on `current` may move to under `strategy`: one that
/// parses as a version of the same shape (`v`, precision, flavour), matches `pattern` when set,
/// is within the step, is newer, and is no pre-release unless `current` is one.
///
/// `Ok(None)`: no newer tag qualifies (the caller then checks `current`'s digest). `Err`: the
/// current tag is not a version, a sentence for the container's skip reason.
pub fn choose<'a>(
    current: &str,
    tags: &'a [String],
    strategy: Strategy,
    pattern: Option<&TagPattern>,
) -> Result<Option<&'a str>, String> {
    if !strategy.is_semver() {
        return Ok(None);
    }
    let Some(base) = TagVersion::parse(current) else {
        return Err(not_a_version(current, strategy));
    };
    let best = tags
        .iter()
        .filter(|tag| pattern.is_none_or(|p| p.is_match(tag)))
        .filter_map(|tag| TagVersion::parse(tag).map(|version| (tag.as_str(), version)))
        .filter(|(_, v)| base.same_shape(v) && base.within_step(v, strategy))
        .filter(|(_, v)| v.pre.is_none() || base.pre.is_some())
        .filter(|(_, v)| v.order(&base) == Ordering::Greater)
        // Equal versions spelt differently (`1.02`, `1.2`): the tag text decides, so the
        // choice does not depend on the order the registry listed them in.
        .max_by(|(ta, a), (tb, b)| a.order(b).then_with(|| ta.cmp(tb)));
    Ok(best.map(|(tag, _)| tag))
}

#[allow(clippy::result_large_err)] // the Err is the decision itself, as in mod.rs
/// The reference a container on `reference` moves to under `policy`'s semver strategy: the
/// newer tag `tags` offers, else `reference` itself (whose digest is then checked).
pub(super) fn target(
    reference: &ImageRef,
    policy: &Policy,
    tags: &TagLists,
) -> Result<ImageRef, Decision> {
    let current = reference.tag().unwrap_or_default();
    if !is_version(current) {
        return Err(Decision::Skip(not_a_version(current, policy.strategy)));
    }
    let listed = match tags.get(&reference.name()) {
        Some(Ok(listed)) => listed,
        Some(Err(ResolveFailure::NotAllowed(why))) => return Err(Decision::Skip(why.clone())),
        Some(Err(ResolveFailure::Failed(why))) => {
            return Err(Decision::Error(format!(
                "cannot list the tags of {}: {why}",
                reference.name()
            )));
        }
        None => {
            return Err(Decision::Error(format!(
                "no tag list for {}",
                reference.name()
            )));
        }
    };
    match choose(current, listed, policy.strategy, policy.tags.as_ref()) {
        Ok(Some(tag)) => Ok(reference.with_tag(tag)),
        Ok(None) => Ok(reference.clone()),
        Err(reason) => Err(Decision::Skip(reason)),
    }
}

#[cfg(test)]
#[path = "semver_tests.rs"]
mod tests;
