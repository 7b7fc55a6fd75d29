use super::*;
use crate::model::Container;

fn defaults(selection: Selection) -> Defaults {
    Defaults {
        selection,
        ..Defaults::default()
    }
}

fn verdict(container: Container, defaults: &Defaults) -> String {
    match evaluate(&container, defaults) {
        Verdict::Managed(p) => format!("managed monitor_only={}", p.monitor_only),
        Verdict::NotSelected(why) => why,
        Verdict::BadLabel(why) => format!("bad label: {why}"),
    }
}

#[test]
fn selection_table() {
    let opt_in = defaults(Selection::OptIn);
    let all = defaults(Selection::All);
    let cases = [
        (
            Container::test("a"),
            &opt_in,
            "not selected: no refit.enable=true label",
        ),
        (
            Container::test("a").with_label(labels::ENABLE, "true"),
            &opt_in,
            "managed monitor_only=false",
        ),
        (
            Container::test("a").with_label(labels::WATCHTOWER_ENABLE, "true"),
            &opt_in,
            "managed monitor_only=false",
        ),
        (
            Container::test("a")
                .with_label(labels::ENABLE, "false")
                .with_label(labels::WATCHTOWER_ENABLE, "true"),
            &opt_in,
            "not selected: labelled refit.enable=false",
        ),
        (Container::test("a"), &all, "managed monitor_only=false"),
        (
            Container::test("a").with_label(labels::ENABLE, "false"),
            &all,
            "not selected: labelled refit.enable=false",
        ),
        (
            Container::test("a").with_label(labels::WATCHTOWER_ENABLE, "0"),
            &all,
            "not selected: labelled refit.enable=false",
        ),
        (
            Container::test("a").with_label(labels::MONITOR_ONLY, "true"),
            &all,
            "managed monitor_only=true",
        ),
        (
            Container::test("a").with_label(labels::WATCHTOWER_MONITOR_ONLY, "True"),
            &all,
            "managed monitor_only=true",
        ),
    ];
    for (container, defaults, expected) in cases {
        let name = format!("{:?}", container.labels);
        assert_eq!(verdict(container, defaults), expected, "labels {name}");
    }
}

#[test]
fn a_bad_label_names_container_label_and_value() {
    let got = verdict(
        Container::test("web").with_label(labels::ENABLE, "yes please"),
        &defaults(Selection::All),
    );
    assert_eq!(
        got,
        "bad label: container web: label refit.enable=\"yes please\" is not a boolean (true or false); container skipped"
    );
}

#[test]
fn scopes_stay_apart() {
    let scoped = Defaults {
        scope: Some("prod".into()),
        ..defaults(Selection::All)
    };
    let unscoped = defaults(Selection::All);
    let prod = || Container::test("a").with_label(labels::SCOPE, "prod");
    assert_eq!(verdict(prod(), &scoped), "managed monitor_only=false");
    assert_eq!(
        verdict(
            Container::test("a").with_label(labels::WATCHTOWER_SCOPE, "prod"),
            &scoped
        ),
        "managed monitor_only=false"
    );
    assert_eq!(
        verdict(
            Container::test("a").with_label(labels::SCOPE, "dev"),
            &scoped
        ),
        "not selected: scope \"dev\" is not this instance's (\"prod\")"
    );
    assert_eq!(
        verdict(Container::test("a"), &scoped),
        "not selected: no refit.scope label, this instance manages scope \"prod\""
    );
    assert_eq!(
        verdict(prod(), &unscoped),
        "not selected: scope \"prod\" belongs to another instance"
    );
}

#[test]
fn monitor_only_default_applies_without_label() {
    let d = Defaults {
        monitor_only: true,
        ..defaults(Selection::All)
    };
    assert_eq!(
        verdict(Container::test("a"), &d),
        "managed monitor_only=true"
    );
    assert_eq!(
        verdict(
            Container::test("a").with_label(labels::MONITOR_ONLY, "false"),
            &d
        ),
        "managed monitor_only=false"
    );
}

fn managed(container: Container, defaults: &Defaults) -> Policy {
    match evaluate(&container, defaults) {
        Verdict::Managed(policy) => *policy,
        other => panic!("expected managed, got {other:?}"),
    }
}

#[test]
fn every_label_reads_into_the_policy_and_watchtower_labels_fill_in() {
    let d = Defaults {
        selection: Selection::All,
        strategy: Strategy::SemverMinor,
        min_age: Duration::from_secs(60),
        ..Defaults::default()
    };
    let bare = managed(Container::test("a"), &d);
    assert_eq!(
        (bare.strategy, bare.pull, bare.min_age, bare.window.clone()),
        (Strategy::SemverMinor, true, Duration::from_secs(60), None),
        "the defaults, without labels"
    );
    let full = managed(
        Container::test("a")
            .with_label(labels::UPDATE, "semver-patch")
            .with_label(labels::PULL, "false")
            .with_label(labels::WINDOW, "nightly")
            .with_label(labels::TAGS, "^1\\.")
            .with_label(labels::MIN_AGE, "2h")
            .with_label(labels::STOP_SIGNAL, "int")
            .with_label(labels::STOP_TIMEOUT, "30")
            .with_label(labels::HEALTH_TIMEOUT, "90s")
            .with_label(labels::ROLLBACK, "false")
            .with_label(labels::DEPENDS_ON, "db, cache,")
            .with_label(labels::COPY, "/etc/app.conf,/srv/x")
            .with_label(labels::HOOK_PRE_UPDATE, "/bin/backup")
            .with_label(labels::HOOK_TIMEOUT, "5s"),
        &d,
    );
    assert_eq!(full.strategy, Strategy::SemverPatch);
    assert!(!full.pull);
    assert_eq!(full.window.as_deref(), Some("nightly"));
    assert_eq!(full.tags.as_ref().map(|t| t.as_str()), Some("^1\\."));
    assert_eq!(full.min_age, Duration::from_secs(7200));
    assert_eq!(full.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(full.stop_timeout, Some(Duration::from_secs(30)));
    assert_eq!(full.health_timeout, Some(Duration::from_secs(90)));
    assert_eq!(full.rollback, Some(false));
    assert_eq!(full.depends_on, ["db", "cache"]);
    assert_eq!(full.copy, ["/etc/app.conf", "/srv/x"]);
    assert_eq!(full.hooks.pre_update.as_deref(), Some("/bin/backup"));
    assert_eq!(full.hooks.timeout, Some(Duration::from_secs(5)));

    let watchtower = managed(
        Container::test("a")
            .with_label(labels::WATCHTOWER_NO_PULL, "true")
            .with_label(labels::WATCHTOWER_STOP_SIGNAL, "SIGHUP")
            .with_label(labels::WATCHTOWER_DEPENDS_ON, "db")
            .with_label(labels::WATCHTOWER_COOLDOWN, "10m")
            .with_label(labels::WATCHTOWER_COPY, "/a")
            .with_label(labels::WATCHTOWER_PRE_CHECK, "echo pre")
            .with_label(labels::WATCHTOWER_POST_UPDATE, "echo post")
            .with_label(labels::WATCHTOWER_PRE_UPDATE_TIMEOUT, "2"),
        &d,
    );
    assert!(!watchtower.pull, "no-pull=true means pull=false");
    assert_eq!(watchtower.stop_signal.as_deref(), Some("SIGHUP"));
    assert_eq!(watchtower.depends_on, ["db"]);
    assert_eq!(watchtower.min_age, Duration::from_secs(600));
    assert_eq!(watchtower.copy, ["/a"]);
    assert_eq!(watchtower.hooks.pre_check.as_deref(), Some("echo pre"));
    assert_eq!(watchtower.hooks.post_update.as_deref(), Some("echo post"));
    assert_eq!(watchtower.hooks.timeout, Some(Duration::from_secs(120)));

    let both = managed(
        Container::test("a")
            .with_label(labels::PULL, "true")
            .with_label(labels::WATCHTOWER_NO_PULL, "true")
            .with_label(labels::STOP_SIGNAL, "SIGTERM")
            .with_label(labels::WATCHTOWER_STOP_SIGNAL, "SIGHUP"),
        &d,
    );
    assert!(both.pull, "the refit label wins over Watchtower's");
    assert_eq!(both.stop_signal.as_deref(), Some("SIGTERM"));
}

#[test]
fn each_bad_label_skips_only_its_container_naming_label_and_value() {
    let d = defaults(Selection::All);
    let cases = [
        (
            labels::UPDATE,
            "newest",
            "is not one of digest, semver-patch, semver-minor, semver-major, none",
        ),
        (labels::PULL, "nope", "is not a boolean (true or false)"),
        (
            labels::MIN_AGE,
            "soon",
            "is not a duration (such as 30s, 5m, 2h)",
        ),
        (
            labels::STOP_TIMEOUT,
            "-3",
            "is not a duration (such as 30s, 5m, 2h)",
        ),
        (
            labels::HEALTH_TIMEOUT,
            "1 fortnight",
            "is not a duration (such as 30s, 5m, 2h)",
        ),
        (
            labels::ROLLBACK,
            "maybe",
            "is not a boolean (true or false)",
        ),
        (
            labels::STOP_SIGNAL,
            "SIGFOO",
            "is not a signal name (such as SIGINT) or number",
        ),
        (
            labels::COPY,
            "etc/x",
            "lists \"etc/x\", which is not an absolute path",
        ),
        (
            labels::MONITOR_ONLY,
            "y",
            "is not a boolean (true or false)",
        ),
        (
            labels::WATCHTOWER_PRE_UPDATE_TIMEOUT,
            "1h",
            "is not a number of minutes",
        ),
        (
            labels::TAGS,
            "^1\\.(",
            "is not a valid regular expression (unclosed group)",
        ),
        (labels::TAGS, "", "is an empty regular expression"),
    ];
    for (label, value, expected) in cases {
        let got = verdict(Container::test("web").with_label(label, value), &d);
        assert_eq!(
            got,
            format!(
                "bad label: container web: label {label}={value:?} {expected}; container skipped"
            )
        );
    }
}
