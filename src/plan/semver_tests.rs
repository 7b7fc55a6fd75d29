//! Tag-choice tables: a current tag, the repository's tags, a strategy (and a `refit.tags`
//! pattern), and the tag chosen, `-` for none (the digest check of the current tag follows)
//! or the skip reason.

use super::*;
use crate::policy::Strategy::{Digest, SemverMajor, SemverMinor, SemverPatch};

fn tags(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

fn pick(current: &str, list: &str, strategy: Strategy, pattern: Option<&str>) -> String {
    let pattern = pattern.map(|p| TagPattern::new(p).expect("valid pattern"));
    let tags = tags(list);
    match choose(current, &tags, strategy, pattern.as_ref()) {
        Ok(Some(tag)) => tag.to_string(),
        Ok(None) => "-".to_string(),
        Err(reason) => reason,
    }
}

const REPO: &str = "1.2.2 1.2.3 1.2.4 1.2.10 1.3.0 1.3.1 2.0.0 2.1.0 latest 1.2 1.3 1 2";

#[test]
fn steps() {
    #[rustfmt::skip]
    let cases = [
        ("1.2.3", SemverPatch, "1.2.10"),
        ("1.2.3", SemverMinor, "1.3.1"),
        ("1.2.3", SemverMajor, "2.1.0"),
        ("1.2.10", SemverPatch, "-"),
        ("1.3.1", SemverMinor, "-"),
        ("2.1.0", SemverMajor, "-"),
        // Two components: patch has nothing to move within (1.2 itself moves on the registry).
        ("1.2", SemverPatch, "-"),
        ("1.2", SemverMinor, "1.3"),
        ("1.2", SemverMajor, "1.3"),
        ("1", SemverMinor, "-"),
        ("1", SemverMajor, "2"),
        // Not a semver strategy: nothing to choose.
        ("1.2.3", Digest, "-"),
    ];
    for (current, strategy, expected) in cases {
        assert_eq!(
            pick(current, REPO, strategy, None),
            expected,
            "{current} under {}",
            strategy.as_str()
        );
    }
}

#[test]
fn numeric_order_not_text_order() {
    assert_eq!(
        pick("1.9.0", "1.10.0 1.9.1 1.2.0", SemverMinor, None),
        "1.10.0"
    );
    assert_eq!(pick("9", "10 9 11 100", SemverMajor, None), "100");
    assert_eq!(pick("1.2.3", "1.2.4 01.2.9", SemverPatch, None), "01.2.9");
}

#[test]
fn precision_is_kept() {
    let list = "1.3 1.3.0 1.4.0.1 1.3.1 2";
    assert_eq!(pick("1.2", list, SemverMajor, None), "1.3");
    assert_eq!(pick("1.2.0", list, SemverMajor, None), "1.3.1");
    assert_eq!(
        pick("1.2.0.9", "1.2.0.10 1.2.1 1.4.0.1", SemverPatch, None),
        "1.2.0.10"
    );
    assert_eq!(
        pick("1.2.0.9", "1.2.0.10 1.2.1 1.4.0.1", SemverMajor, None),
        "1.4.0.1"
    );
}

#[test]
fn suffix_is_kept() {
    let list = "1.3 1.3-alpine 1.4-bookworm 1.4-alpine3.19 1.5-alpine-slim 1.2-alpine";
    assert_eq!(pick("1.2-alpine", list, SemverMinor, None), "1.3-alpine");
    assert_eq!(pick("1.2", list, SemverMinor, None), "1.3");
    assert_eq!(
        pick("1.2-bookworm", list, SemverMinor, None),
        "1.4-bookworm"
    );
    assert_eq!(
        pick("1.3-alpine3.19", list, SemverMinor, None),
        "1.4-alpine3.19"
    );
    assert_eq!(
        pick("1.2-alpine-slim", list, SemverMinor, None),
        "1.5-alpine-slim"
    );
    assert_eq!(pick("1.2-slim", list, SemverMinor, None), "-");
}

#[test]
fn leading_v_is_kept() {
    let list = "v1.2.4 1.2.5 V1.2.6 v1.3.0";
    assert_eq!(pick("v1.2.3", list, SemverPatch, None), "v1.2.4");
    assert_eq!(pick("v1.2.3", list, SemverMinor, None), "v1.3.0");
    assert_eq!(pick("1.2.3", list, SemverMinor, None), "1.2.5");
}

#[test]
fn pre_releases_only_for_a_pre_release() {
    let list = "1.3.0 1.4.0-rc1 1.4.0-rc.2 1.4.0-beta 1.4.0-alpha.2 1.4.0-pre 1.4.0-dev \
                1.4.0-preview 2.0.0-RC1 1.3.1-rc1-alpine 1.3.0-alpine";
    assert_eq!(pick("1.2.0", list, SemverMinor, None), "1.3.0");
    assert_eq!(pick("1.2.0", list, SemverMajor, None), "1.3.0");
    assert_eq!(
        pick("1.2.0-alpine", list, SemverMinor, None),
        "1.3.0-alpine"
    );
    // On a pre-release, later pre-releases and the release itself qualify.
    assert_eq!(pick("1.4.0-rc1", list, SemverPatch, None), "1.4.0-rc.2");
    assert_eq!(pick("1.4.0-beta", list, SemverPatch, None), "1.4.0-rc.2");
    assert_eq!(pick("1.4.0-rc1", list, SemverMajor, None), "2.0.0-RC1");
    assert_eq!(
        pick("1.4.0-rc1", "1.4.0 1.4.0-rc2", SemverPatch, None),
        "1.4.0"
    );
    assert_eq!(
        pick("1.4.0-rc9", "1.4.0-rc10", SemverPatch, None),
        "1.4.0-rc10"
    );
    assert_eq!(
        pick("1.4.0-rc-1", "1.4.0-rc-2 1.4.0-rc3", SemverPatch, None),
        "1.4.0-rc3"
    );
    assert_eq!(
        pick("1.3.1-alpine-rc0", list, SemverPatch, None),
        "1.3.1-rc1-alpine"
    );
    // A release is never older than its own pre-release.
    assert_eq!(pick("1.4.0", "1.4.0-rc1 1.4.0-rc2", SemverPatch, None), "-");
}

#[test]
fn words_that_merely_start_like_a_marker_are_flavours() {
    // `devel` and `prerelease2x` are not pre-release markers: they are flavours, kept as such.
    let list = "1.3-devel 1.3 1.4-prerelease2x";
    assert_eq!(pick("1.2-devel", list, SemverMinor, None), "1.3-devel");
    assert_eq!(pick("1.2", list, SemverMinor, None), "1.3");
}

#[test]
fn the_pattern_filters_candidates() {
    let list = "1.2.4 1.2.5 1.3.0 2.0.0";
    assert_eq!(pick("1.2.3", list, SemverMajor, Some(r"^1\.")), "1.3.0");
    assert_eq!(
        pick("1.2.3", list, SemverMajor, Some(r"^1\.2\.4$")),
        "1.2.4"
    );
    assert_eq!(pick("1.2.3", list, SemverMajor, Some("^9")), "-");
    // The current tag need not match it.
    assert_eq!(pick("1.2.3", list, SemverMajor, Some("^2")), "2.0.0");
}

#[test]
fn a_current_tag_that_is_no_version_is_a_skip_reason() {
    for (current, strategy) in [
        ("latest", SemverMinor),
        ("stable", SemverPatch),
        ("1.2.3.4.5", SemverMajor),
        ("1.2_alpine", SemverMinor),
        ("1.2-", SemverMinor),
        ("1..2", SemverMinor),
        ("v", SemverMinor),
        ("1.2.3rc1", SemverMinor),
        ("99999999999999999999", SemverMajor),
    ] {
        assert_eq!(
            pick(current, REPO, strategy, None),
            format!(
                "tag \"{current}\" is not a version (refit.update={})",
                strategy.as_str()
            )
        );
    }
}

#[test]
fn unparsable_candidates_are_ignored() {
    let list = "1.2.x 1.2.4a 1.2.5_1 v 1.2.6- sha-abc 1.2.7.8.9.10 1.2.4";
    assert_eq!(pick("1.2.3", list, SemverPatch, None), "1.2.4");
    assert_eq!(pick("1.2.3", "", SemverPatch, None), "-");
}

#[test]
fn equal_versions_spelt_twice_choose_the_same_whatever_the_order() {
    let a = pick("1.2", "1.03 1.3", SemverMinor, None);
    let b = pick("1.2", "1.3 1.03", SemverMinor, None);
    assert_eq!(a, b);
}
