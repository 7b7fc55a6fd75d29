//! Trust: `[[trust.signatures]]` against real cosign-format signatures in the local registry
//! (P-256 keys made here, signed with openssl, verified by refit through the sigstore crate), and
//! `trust.allowed_registries` keeping refit away from a registry altogether.

use crate::support::{CosignKey, CountingRegistry, ImageSpec, TestEnv, simple_signing_payload};

const ENABLE: &str = "refit.enable=true";

#[test]
fn updates_of_covered_images_need_a_valid_signature_by_the_rules_key() {
    let env = TestEnv::new("signatures");
    let trusted = CosignKey::generate(env.dir(), "trusted");
    let other = CosignKey::generate(env.dir(), "other");
    let provenance = ImageSpec::new()
        .label("org.opencontainers.image.version", "2.0.0")
        .label("org.opencontainers.image.revision", "abc123")
        .label(
            "org.opencontainers.image.source",
            "https://example.test/app",
        );
    // One container per case, each on its own repository under the rule's pattern, plus one the
    // rule does not cover.
    let cases = [
        "signed",
        "unsigned",
        "other-key",
        "other-digest",
        "other-repo",
    ];
    let mut running = Vec::new();
    for case in cases {
        let repo = format!("app-{case}");
        let v1 = env.build_image(&repo, "1", &ImageSpec::new().payload("v1"));
        let container = env.run(case, &["--label", ENABLE], &v1.reference);
        let v2 = env.push_new_version(&repo, "1", &provenance.clone().payload("v2"));
        match case {
            "signed" => env.sign_image(&v2, &trusted),
            "other-key" => env.sign_image(&v2, &other),
            // A real signature, but of the old digest, put where the new one's would be.
            "other-digest" => {
                let payload = simple_signing_payload(&v2.repository, &v1.digest);
                env.push_signature(&v2, &payload, &trusted);
            }
            // The right digest, signed for another repository.
            "other-repo" => {
                let elsewhere = format!("{}-copy", v2.repository);
                let payload = simple_signing_payload(&elsewhere, &v2.digest);
                env.push_signature(&v2, &payload, &trusted);
            }
            _ => {}
        }
        running.push((case, container, v2));
    }
    let free_v1 = env.build_image("free", "1", &ImageSpec::new().payload("f1"));
    let free = env.run("free", &["--label", ENABLE], &free_v1.reference);
    let free_v2 = env.push_new_version("free", "1", &ImageSpec::new().payload("f2"));
    env.write_config(&format!(
        "[[trust.signatures]]\nmatch = \"{}/{}/app-*\"\npublic_key = \"{}\"\n",
        env.registry(),
        env.prefix(),
        trusted.public.display()
    ));

    let config = env.refit(&["config"]);
    config.assert_code(0);
    assert!(
        config.stdout.contains("[[trust.signatures]]")
            && config.stdout.contains(&format!("{}/app-*", env.prefix())),
        "refit config prints the rule\n{config}"
    );

    let check = env.refit(&["check", "--json"]);
    check.assert_code(0);
    for (case, container, _) in &running {
        let expected = if *case == "signed" { "update" } else { "skip" };
        assert_eq!(
            check.container(&container.name)["decision"],
            expected,
            "{case}\n{check}"
        );
    }

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    let reason = |name: &str| {
        let line = run.container(name);
        assert_eq!(line["outcome"], "skipped", "{name}\n{run}");
        line["reason"].as_str().unwrap_or_default().to_string()
    };
    for (case, container, v2) in &running {
        match *case {
            "signed" => {
                let line = run.container(&container.name);
                assert_eq!(line["outcome"], "updated", "{run}");
                assert_eq!(env.inspect(&container.name)["Image"], v2.id.as_str());
                assert_eq!(line["provenance"]["version"], "2.0.0", "{line:#}");
                assert_eq!(line["provenance"]["revision"], "abc123", "{line:#}");
                assert_eq!(
                    line["provenance"]["source"], "https://example.test/app",
                    "{line:#}"
                );
            }
            "unsigned" => {
                let why = reason(&container.name);
                assert!(
                    why.starts_with("signature missing: ") && why.contains(".sig"),
                    "{why}"
                );
            }
            "other-key" => {
                let why = reason(&container.name);
                assert!(
                    why.starts_with("signature invalid: ") && why.contains("trusted.pub"),
                    "{why}"
                );
            }
            "other-digest" => {
                let why = reason(&container.name);
                assert!(
                    why.starts_with("signature invalid: ") && why.contains("another image"),
                    "{why}"
                );
            }
            "other-repo" => {
                let why = reason(&container.name);
                assert!(
                    why.starts_with("signature invalid: ") && why.contains("another repository"),
                    "{why}"
                );
            }
            _ => unreachable!(),
        }
        if *case != "signed" {
            assert_eq!(
                env.inspect(&container.name)["Id"],
                container.id.as_str(),
                "{case}: untouched"
            );
        }
    }
    assert_eq!(run.container(&free.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&free.name)["Image"], free_v2.id.as_str());
}

#[test]
fn a_registry_not_allowed_is_skipped_and_sent_no_request() {
    let env = TestEnv::new("not_allowed");
    let registry = CountingRegistry::start();
    let elsewhere =
        env.build_image_on(registry.addr(), "app", "1", &ImageSpec::new().payload("e1"));
    let shared = env.build_image("app", "1", &ImageSpec::new().payload("s1"));
    let outside = env.run("outside", &["--label", ENABLE], &elsewhere.reference);
    let inside = env.run("inside", &["--label", ENABLE], &shared.reference);
    env.push_new_version_on(registry.addr(), "app", "1", &ImageSpec::new().payload("e2"));
    let shared_v2 = env.push_new_version("app", "1", &ImageSpec::new().payload("s2"));
    env.write_config(&format!(
        "[trust]\nallowed_registries = [\"{}\"]\n",
        env.registry()
    ));
    registry.reset();

    let run = env.refit(&["update", "--json"]);
    run.assert_code(0);
    let line = run.container(&outside.name);
    assert_eq!(line["decision"], "skip", "{run}");
    let reason = line["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("registry not allowed") && reason.contains(registry.addr()),
        "{reason}"
    );
    assert_eq!(env.inspect(&outside.name)["Id"], outside.id.as_str());
    assert_eq!(
        registry.counts().total(),
        0,
        "refit (and the engine) sent it nothing: {:#?}",
        registry.requests()
    );
    assert_eq!(run.container(&inside.name)["outcome"], "updated", "{run}");
    assert_eq!(env.inspect(&inside.name)["Image"], shared_v2.id.as_str());
}
