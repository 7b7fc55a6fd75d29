//! Decision-table tests of the planner: each case is a container, its local image and the
//! registry's answer, with the expected decision as the report would print it.

use std::collections::BTreeMap;

use super::*;
use crate::model::test_digest;
use crate::policy::{Selection, labels};

const REF: &str = "127.0.0.1:5000/app:1";

fn defaults() -> Defaults {
    Defaults {
        selection: Selection::OptIn,
        ..Defaults::default()
    }
}

fn image(id: u8, digests: &[u8]) -> LocalImage {
    LocalImage {
        id: test_digest(id),
        repo_digests: digests
            .iter()
            .map(|d| format!("127.0.0.1:5000/app@{}", test_digest(*d)))
            .collect(),
        platform: Platform::new("linux", "amd64", ""),
        labels: BTreeMap::new(),
    }
}

fn enabled(name: &str, image_id: u8) -> Container {
    Container::test(name)
        .image(REF)
        .image_id(test_digest(image_id))
        .with_label(labels::ENABLE, "true")
}

fn single(digest: u8) -> Result<RemoteImage, ResolveFailure> {
    Ok(RemoteImage {
        digest: test_digest(digest),
        is_index: false,
        platforms: BTreeMap::new(),
    })
}

fn index(digest: u8, amd64: Option<PlatformManifest>) -> Result<RemoteImage, ResolveFailure> {
    let platforms = amd64
        .map(|m| (Platform::new("linux", "amd64", ""), m))
        .into_iter()
        .collect();
    Ok(RemoteImage {
        digest: test_digest(digest),
        is_index: true,
        platforms,
    })
}

fn listed(digest: u8, config: Option<u8>) -> Option<PlatformManifest> {
    Some(PlatformManifest::Listed {
        digest: test_digest(digest),
        config: config.map(test_digest),
    })
}

/// Plan one container against one answer and print its decision.
fn decision_for(
    container: Container,
    local: LocalImage,
    answer: Option<Result<RemoteImage, ResolveFailure>>,
    defaults: &Defaults,
) -> String {
    let snapshot = Snapshot {
        images: [(local.id.clone(), local)].into(),
        containers: vec![container],
        ..Default::default()
    };
    let remote: RemoteDigests = answer
        .map(|a| (REF.parse().unwrap(), a))
        .into_iter()
        .collect();
    plan(&snapshot, defaults, &remote, &TagLists::new()).items[0]
        .decision
        .to_string()
}

#[test]
fn decision_table() {
    let d = defaults();
    let monitor = Defaults {
        monitor_only: true,
        ..defaults()
    };
    let failed = || {
        Some(Err(ResolveFailure::Failed(
            "registry 127.0.0.1:5000 unreachable: connection refused".into(),
        )))
    };
    let not_allowed = || {
        Some(Err(ResolveFailure::NotAllowed(
            "registry not allowed: 127.0.0.1:5000".into(),
        )))
    };
    type Answer = Option<Result<RemoteImage, ResolveFailure>>;
    #[rustfmt::skip]
    let cases: Vec<(&str, Container, LocalImage, Answer, &Defaults, &str)> = vec![
        ("unlabelled, opt-in", Container::test("a").image(REF).image_id(test_digest(1)), image(1, &[2]), None, &d, "skip: not selected: no refit.enable=true label"),
        ("same digest", enabled("a", 1), image(1, &[2]), Some(single(2)), &d, "up-to-date"),
        ("new digest", enabled("a", 1), image(1, &[2]), Some(single(3)), &d, "update"),
        ("new digest, monitor-only", enabled("a", 1), image(1, &[2]), Some(single(3)), &monitor, "available"),
        ("monitor-only label", enabled("a", 1).with_label(labels::MONITOR_ONLY, "true"), image(1, &[2]), Some(single(3)), &d, "available"),
        ("strategy none", enabled("a", 1).with_label(labels::UPDATE, "none"), image(1, &[2]), Some(single(3)), &d, "skip: refit.update is none: refit never updates this container"),
        ("strategy none, current", enabled("a", 1).with_label(labels::UPDATE, "none"), image(1, &[2]), Some(single(2)), &d, "up-to-date"),
        ("bad label", enabled("a", 1).with_label(labels::PULL, "nah"), image(1, &[2]), None, &d, "skip: container a: label refit.pull=\"nah\" is not a boolean (true or false); container skipped"),
        ("built locally", enabled("a", 1), image(1, &[]), None, &d, "skip: local image: it has no registry digest"),
        ("pinned", enabled("a", 1).image(&format!("127.0.0.1:5000/app@{}", test_digest(2))), image(1, &[2]), None, &d, "skip: pinned by digest"),
        ("by image id", enabled("a", 1).image(test_digest(1).as_str()), image(1, &[2]), None, &d, "skip: created from an image id: no reference to look up"),
        ("registry down", enabled("a", 1), image(1, &[2]), failed(), &d, "error: registry 127.0.0.1:5000 unreachable: connection refused"),
        ("registry not allowed", enabled("a", 1), image(1, &[2]), not_allowed(), &d, "skip: registry not allowed: 127.0.0.1:5000"),
        ("index unchanged", enabled("a", 1), image(1, &[5]), Some(index(5, None)), &d, "up-to-date"),
        ("index changed, platform manifest known", enabled("a", 1), image(1, &[5, 6]), Some(index(7, listed(6, None))), &d, "up-to-date"),
        ("index changed, same config", enabled("a", 1), image(1, &[5]), Some(index(7, listed(8, Some(1)))), &d, "up-to-date"),
        ("index changed, platform changed", enabled("a", 1), image(1, &[5]), Some(index(7, listed(8, Some(9)))), &d, "update"),
        ("index lost the platform", enabled("a", 1), image(1, &[5]), Some(index(7, Some(PlatformManifest::Missing))), &d, "error: the registry's index no longer lists a manifest for linux/amd64"),
        ("parked old container", enabled("a.refit-old", 1), image(1, &[2]), Some(single(3)), &d, "skip: parked by refit during an update"),
    ];
    for (case, container, local, answer, defaults, expected) in cases {
        assert_eq!(
            decision_for(container, local, answer, defaults),
            expected,
            "case: {case}"
        );
    }
}

#[test]
fn update_carries_the_checked_digest_and_platform() {
    let local = image(1, &[2]);
    let snapshot = Snapshot {
        images: [(local.id.clone(), local)].into(),
        containers: vec![enabled("a", 1)],
        ..Default::default()
    };
    let remote: RemoteDigests = [(REF.parse().unwrap(), single(3))].into();
    let plan = plan(&snapshot, &defaults(), &remote, &TagLists::new());
    let item = &plan.items[0];
    let update = item.decision.update().unwrap();
    assert_eq!(update.digest, test_digest(3));
    assert_eq!(update.reference.to_string(), REF);
    assert_eq!(update.platform, Platform::new("linux", "amd64", ""));
    assert_eq!(item.current_digest, Some(test_digest(2)));
    assert_eq!(item.available_digest, Some(test_digest(3)));
    assert_eq!(plan.order, vec![item.container.id.clone()]);
}

#[test]
fn one_check_per_distinct_reference() {
    let mut snapshot = Snapshot::default();
    for i in 0..50u8 {
        let image_number = i % 10;
        let reference = format!("127.0.0.1:5000/app{image_number}:1");
        let local = LocalImage {
            repo_digests: vec![format!(
                "127.0.0.1:5000/app{image_number}@{}",
                test_digest(100 + image_number)
            )],
            ..image(image_number, &[])
        };
        snapshot.images.insert(local.id.clone(), local);
        snapshot
            .containers
            .push(enabled(&format!("c{i}"), image_number).image(&reference));
    }
    snapshot.containers.push(
        Container::test("unlabelled")
            .image("127.0.0.1:5000/other:1")
            .image_id(test_digest(1)),
    );
    let wanted = references_to_check(&snapshot, &defaults(), &TagLists::new());
    assert_eq!(wanted.len(), 10);
    assert!(wanted.values().all(|images| images.len() == 1));
}

#[test]
fn updates_are_ordered_dependencies_first_and_cycles_are_errors() {
    let local = image(1, &[2]);
    let db = enabled("db", 1);
    let containers = vec![
        enabled("web", 1).links(&["db"]),
        db.clone(),
        enabled("x", 1).links(&["y"]),
        enabled("y", 1).links(&["x"]),
    ];
    let snapshot = Snapshot {
        images: [(local.id.clone(), local)].into(),
        containers,
        ..Default::default()
    };
    let remote: RemoteDigests = [(REF.parse().unwrap(), single(3))].into();
    let plan = plan(&snapshot, &defaults(), &remote, &TagLists::new());
    let names: Vec<&str> = plan
        .order
        .iter()
        .map(|id| plan.item(id).unwrap().container.name.as_str())
        .collect();
    assert_eq!(names, vec!["db", "web"]);
    assert_eq!(
        plan.items[2].decision.to_string(),
        "error: dependency cycle between x, y"
    );
    assert_eq!(plan.graph.dependents(&db.id).len(), 1);
}

/// `refit.pull=false`: no registry question; the container moves to the image its tag names
/// locally now (someone else pulled it), and stays when the tag has not moved.
#[test]
fn pull_false_acts_on_the_local_tag_only() {
    let old = image(1, &[2]);
    let pulled = image(5, &[6]);
    let container = || enabled("a", 1).with_label(labels::PULL, "false");
    let snapshot = |tag: Option<u8>| Snapshot {
        images: [
            (old.id.clone(), old.clone()),
            (pulled.id.clone(), pulled.clone()),
        ]
        .into(),
        containers: vec![container()],
        tags: tag
            .map(|t| (REF.parse().unwrap(), test_digest(t)))
            .into_iter()
            .collect(),
    };
    let d = defaults();
    assert!(references_to_check(&snapshot(Some(5)), &d, &TagLists::new()).is_empty());
    assert_eq!(
        local_lookups(&snapshot(None), &d),
        [REF.parse().unwrap()].into()
    );

    let moved = plan(
        &snapshot(Some(5)),
        &d,
        &RemoteDigests::new(),
        &TagLists::new(),
    );
    let Decision::Update(update) = &moved.items[0].decision else {
        panic!("{:?}", moved.items[0].decision);
    };
    assert!(update.local);
    assert_eq!(update.digest, test_digest(5));
    assert_eq!(moved.items[0].available_digest, Some(test_digest(6)));

    let same = plan(
        &snapshot(Some(1)),
        &d,
        &RemoteDigests::new(),
        &TagLists::new(),
    );
    assert_eq!(same.items[0].decision, Decision::UpToDate);
    let gone = plan(&snapshot(None), &d, &RemoteDigests::new(), &TagLists::new());
    assert_eq!(
        gone.items[0].decision.to_string(),
        format!("error: {REF} names no local image (refit.pull=false: refit does not pull it)")
    );
}

/// Semver strategies: the tag list chooses the reference that is resolved and updated to.
mod semver_strategies {
    use super::*;

    const REPO: &str = "127.0.0.1:5000/app";

    fn on(tag: &str, strategy: &str) -> Container {
        enabled("a", 1)
            .image(&format!("{REPO}:{tag}"))
            .with_label(labels::UPDATE, strategy)
    }

    fn snapshot(containers: Vec<Container>) -> Snapshot {
        let local = image(1, &[2]);
        Snapshot {
            images: [(local.id.clone(), local)].into(),
            containers,
            ..Default::default()
        }
    }

    fn listed(tags: &str) -> TagLists {
        let tags = tags.split_whitespace().map(str::to_owned).collect();
        [(REPO.to_string(), Ok(tags))].into()
    }

    fn reference(tag: &str) -> ImageRef {
        format!("{REPO}:{tag}").parse().unwrap()
    }

    /// What the pass would resolve, and the decision and target given `digest` for it.
    fn run(container: Container, tags: &TagLists, digest: u8) -> (Vec<String>, Decision) {
        let snapshot = snapshot(vec![container]);
        let wanted = references_to_check(&snapshot, &defaults(), tags);
        let remote: RemoteDigests = wanted.keys().map(|r| (r.clone(), single(digest))).collect();
        let plan = plan(&snapshot, &defaults(), &remote, tags);
        let wanted = wanted.keys().map(ToString::to_string).collect();
        (wanted, plan.items[0].decision.clone())
    }

    #[test]
    fn the_chosen_tag_is_resolved_and_becomes_the_update_reference() {
        let tags = listed("1.2.3 1.2.4 1.3.0 2.0.0 1.4.0-rc1 latest");
        for (strategy, expected) in [
            ("semver-patch", "1.2.4"),
            ("semver-minor", "1.3.0"),
            ("semver-major", "2.0.0"),
        ] {
            let (wanted, decision) = run(on("1.2.3", strategy), &tags, 3);
            assert_eq!(wanted, [reference(expected).to_string()], "{strategy}");
            let update = decision.update().expect("an update");
            assert_eq!(update.reference, reference(expected));
            assert_eq!(update.digest, test_digest(3));
            assert!(!update.local);
        }
    }

    #[test]
    fn without_a_newer_tag_the_current_tag_digest_decides() {
        let tags = listed("1.2.3 2.0.0");
        let (wanted, moved) = run(on("1.2.3", "semver-minor"), &tags, 3);
        assert_eq!(wanted, [reference("1.2.3").to_string()]);
        assert_eq!(
            moved.update().map(|u| &u.reference),
            Some(&reference("1.2.3"))
        );
        let (_, same) = run(on("1.2.3", "semver-minor"), &tags, 2);
        assert_eq!(same, Decision::UpToDate);
    }

    #[test]
    fn one_tag_list_per_repository_and_only_for_version_tags() {
        let containers = vec![
            on("1.2.3", "semver-minor"),
            enabled("b", 1)
                .image(&format!("{REPO}:1.3"))
                .with_label(labels::UPDATE, "semver-patch"),
            on("latest", "semver-major"),
            enabled("digest", 1).image(&format!("{REPO}:1.2.3")),
            enabled("other", 1)
                .image("127.0.0.1:5000/other:1")
                .with_label(labels::UPDATE, "semver-major")
                .with_label(labels::PULL, "false"),
        ];
        let fetch = tag_lists_to_fetch(&snapshot(containers), &defaults());
        assert_eq!(fetch.keys().collect::<Vec<_>>(), [REPO]);
        let only_digest = snapshot(vec![enabled("digest", 1).image(&format!("{REPO}:1.2.3"))]);
        assert!(tag_lists_to_fetch(&only_digest, &defaults()).is_empty());
    }

    #[test]
    fn skips_and_errors() {
        let tags = listed("1.2.3 1.3.0");
        let (wanted, latest) = run(on("latest", "semver-minor"), &tags, 3);
        assert!(wanted.is_empty(), "nothing to ask");
        assert_eq!(
            latest.to_string(),
            "skip: tag \"latest\" is not a version (refit.update=semver-minor)"
        );
        let failed: TagLists = [(
            REPO.to_string(),
            Err(ResolveFailure::Failed("registry unreachable".into())),
        )]
        .into();
        let (_, failed) = run(on("1.2.3", "semver-minor"), &failed, 3);
        assert_eq!(
            failed.to_string(),
            format!("error: cannot list the tags of {REPO}: registry unreachable")
        );
        let denied: TagLists = [(
            REPO.to_string(),
            Err(ResolveFailure::NotAllowed("registry not allowed".into())),
        )]
        .into();
        let (_, denied) = run(on("1.2.3", "semver-minor"), &denied, 3);
        assert_eq!(denied.to_string(), "skip: registry not allowed");
        let bad = on("1.2.3", "semver-minor").with_label(labels::TAGS, "(");
        let (_, bad) = run(bad, &tags, 3);
        assert_eq!(
            bad.to_string(),
            "skip: container a: label refit.tags=\"(\" is not a valid regular expression \
             (unclosed group); container skipped"
        );
    }

    #[test]
    fn the_tags_label_and_monitor_only_apply() {
        let tags = listed("1.2.3 1.2.9 1.3.0");
        let filtered = on("1.2.3", "semver-minor").with_label(labels::TAGS, r"^1\.2\.");
        let (_, decision) = run(filtered, &tags, 3);
        assert_eq!(
            decision.update().map(|u| &u.reference),
            Some(&reference("1.2.9"))
        );
        let monitored = on("1.2.3", "semver-minor").with_label(labels::MONITOR_ONLY, "true");
        let (_, decision) = run(monitored, &tags, 3);
        assert_eq!(decision.kind(), "available");
        assert_eq!(
            decision.update().map(|u| &u.reference),
            Some(&reference("1.3.0"))
        );
    }
}
