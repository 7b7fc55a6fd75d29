//! Semver strategies against the real engine and registry: `refit.update=semver-*` moves a
//! container to the highest newer tag within its step, keeping precision and flavour, never to a
//! pre-release; the successor runs the new tag, and the next pass has nothing to do.

use serde_json::Value;

use crate::support::{ImageSpec, PushedImage, TestEnv};

const ENABLE: &str = "refit.enable=true";

/// Pushes a new image under each tag of `app` (not kept locally, so refit's pull is real).
fn publish(env: &TestEnv, tags: &[&str]) -> Vec<PushedImage> {
    tags.iter()
        .map(|tag| env.push_new_version("app", tag, &ImageSpec::new().payload(tag)))
        .collect()
}

/// `name` runs `image` under its new tag, and its report line says so.
fn assert_moved_to(env: &TestEnv, report: &Value, name: &str, image: &PushedImage) {
    assert_eq!(report["decision"], "update", "{name}: {report}");
    assert_eq!(report["outcome"], "updated", "{name}: {report}");
    assert_eq!(report["target_image"], image.reference.as_str(), "{name}");
    assert_eq!(report["available_digest"], image.digest.as_str(), "{name}");
    let after = env.inspect(name);
    assert_eq!(after["Config"]["Image"], image.reference.as_str(), "{name}");
    assert_eq!(
        after["Image"],
        image.id.as_str(),
        "{name} runs the new tag's image"
    );
    assert_eq!(after["State"]["Running"], true, "{name}");
    assert_eq!(
        env.image_inspect(&image.reference)["Id"],
        image.id.as_str(),
        "the new tag names the pulled image locally"
    );
}

#[test]
fn patch_and_minor_steps_choose_the_highest_tag_within_them_and_then_rest() {
    let env = TestEnv::new("semver_steps");
    let current = env.build_image("app", "1.2.3", &ImageSpec::new().payload("1.2.3"));
    let published = publish(&env, &["1.2.4", "1.3.0", "2.0.0", "1.4.0-rc1"]);
    let (patch_target, minor_target) = (&published[0], &published[1]);
    let patch = env.run(
        "patch",
        &["--label", ENABLE, "--label", "refit.update=semver-patch"],
        &current.reference,
    );
    let minor = env.run(
        "minor",
        &["--label", ENABLE, "--label", "refit.update=semver-minor"],
        &current.reference,
    );

    let check = env.refit(&["check", "--json"]);
    check.assert_code(0);
    assert_eq!(
        check.container(&patch.name)["target_image"],
        patch_target.reference.as_str(),
        "{check}"
    );
    assert_eq!(
        check.container(&minor.name)["target_image"],
        minor_target.reference.as_str(),
        "neither 2.0.0 nor the pre-release 1.4.0-rc1: {check}"
    );
    assert_eq!(
        env.inspect(&patch.name)["Id"],
        patch.id.as_str(),
        "a check changes nothing"
    );

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    assert_moved_to(
        &env,
        &update.container(&patch.name),
        &patch.name,
        patch_target,
    );
    assert_moved_to(
        &env,
        &update.container(&minor.name),
        &minor.name,
        minor_target,
    );
    assert_eq!(
        env.image_inspect(&current.reference)["Id"],
        current.id.as_str(),
        "the old tag stays where it was"
    );

    let again = env.refit(&["update", "--json"]);
    again.assert_code(0);
    for (name, target) in [(&patch.name, patch_target), (&minor.name, minor_target)] {
        let line = again.container(name);
        assert_eq!(line["outcome"], "up-to-date", "{name}: {again}");
        assert_eq!(line["image"], target.reference.as_str());
        assert_eq!(env.inspect(name)["Image"], target.id.as_str());
    }
}

#[test]
fn a_flavoured_tag_keeps_its_flavour_and_a_tag_that_is_no_version_is_skipped() {
    let env = TestEnv::new("semver_flavour");
    let current = env.build_image("app", "1.2-alpine", &ImageSpec::new().payload("alpine"));
    let latest = env.build_image("app", "latest", &ImageSpec::new().payload("latest"));
    let published = publish(
        &env,
        &["1.3-alpine", "1.3", "1.4-bookworm", "1.4-alpine-rc1"],
    );
    let alpine = env.run(
        "alpine",
        &["--label", ENABLE, "--label", "refit.update=semver-minor"],
        &current.reference,
    );
    let floating = env.run(
        "latest",
        &["--label", ENABLE, "--label", "refit.update=semver-major"],
        &latest.reference,
    );

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    assert_moved_to(
        &env,
        &update.container(&alpine.name),
        &alpine.name,
        &published[0],
    );
    let skipped = update.container(&floating.name);
    assert_eq!(skipped["decision"], "skip", "{update}");
    assert_eq!(
        skipped["reason"],
        "tag \"latest\" is not a version (refit.update=semver-major)"
    );
    assert_eq!(env.inspect(&floating.name)["Id"], floating.id.as_str());
}

#[test]
fn without_a_newer_tag_a_new_digest_of_the_same_tag_is_the_update() {
    let env = TestEnv::new("semver_same_tag");
    let current = env.build_image("app", "1.2.3", &ImageSpec::new().payload("first"));
    let web = env.run(
        "web",
        &[
            "--label",
            ENABLE,
            "--label",
            "refit.update=semver-major",
            "--label",
            r"refit.tags=^1\.2\.",
        ],
        &current.reference,
    );
    // 2.0.0 is newer but the refit.tags pattern rules it out; 1.2.3 itself was republished.
    publish(&env, &["2.0.0"]);
    let republished = &publish(&env, &["1.2.3"])[0];

    let update = env.refit(&["update", "--json"]);
    update.assert_code(0);
    assert_moved_to(&env, &update.container(&web.name), &web.name, republished);
}
