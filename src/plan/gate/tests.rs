//! Decision-table tests of the time gates at fixed instants: min-age × window × label ×
//! monitor-only, each with the decision as the report prints it.

use std::collections::BTreeMap;

use std::time::Duration;

use chrono::{NaiveTime, TimeZone, WeekdaySet};

use super::*;
use crate::model::{
    Container, LocalImage, Platform, RemoteDigests, RemoteImage, Snapshot, test_digest,
};
use crate::plan::plan;
use crate::policy::{Defaults, Selection};

const REF: &str = "127.0.0.1:5000/app:1";

/// Thursday 2026-12-03, 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
}

fn window(name: &str, start: u32, end: u32, default: bool) -> Window {
    Window {
        name: name.into(),
        days: WeekdaySet::ALL,
        start: NaiveTime::from_hms_opt(start, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(end, 0, 0).unwrap(),
        tz: chrono_tz::Europe::Berlin,
        default,
    }
}

/// A planned pass over one enabled container with `labels`, for which the registry has a
/// new digest.
fn planned(labels: &[(&str, &str)], defaults: &Defaults) -> Plan {
    let local = LocalImage {
        id: test_digest(1),
        repo_digests: vec![format!("127.0.0.1:5000/app@{}", test_digest(2))],
        platform: Platform::new("linux", "amd64", ""),
        labels: BTreeMap::new(),
    };
    let container = labels.iter().fold(
        Container::test("web")
            .image(REF)
            .image_id(test_digest(1))
            .with_label(labels::ENABLE, "true"),
        |c, (k, v)| c.with_label(k, v),
    );
    let snapshot = Snapshot {
        images: [(local.id.clone(), local)].into(),
        containers: vec![container],
        ..Default::default()
    };
    let answer = RemoteImage {
        digest: test_digest(3),
        is_index: false,
        platforms: BTreeMap::new(),
    };
    let remote: RemoteDigests = [(REF.parse().unwrap(), Ok(answer))].into();
    plan(&snapshot, defaults, &remote, &BTreeMap::new())
}

fn first_seen_ago(minutes: i64) -> BTreeMap<(ImageRef, Digest), DateTime<Utc>> {
    [(
        (REF.parse().unwrap(), test_digest(3)),
        noon() - chrono::Duration::minutes(minutes),
    )]
    .into()
}

fn gated(
    labels: &[(&str, &str)],
    defaults: &Defaults,
    windows: &[Window],
    seen: &BTreeMap<(ImageRef, Digest), DateTime<Utc>>,
) -> (String, usize) {
    let mut plan = planned(labels, defaults);
    let gates = Gates {
        now: noon(),
        windows,
        first_seen: seen,
    };
    apply(&mut plan, &gates);
    (plan.items[0].decision.to_string(), plan.order.len())
}

/// (case, labels, defaults, windows, first seen minutes ago, decision prefix, updates in order)
type Case<'a> = (
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a Defaults,
    &'a [Window],
    Option<i64>,
    &'a str,
    usize,
);

#[test]
fn gate_decision_table() {
    let opt_in = Defaults {
        selection: Selection::OptIn,
        ..Defaults::default()
    };
    let cooling = Defaults {
        min_age: Duration::from_secs(3600),
        ..opt_in.clone()
    };
    let monitor = Defaults {
        monitor_only: true,
        ..opt_in.clone()
    };
    // Berlin is UTC+1 in December: noon UTC is 13:00 there.
    let open = [window("day", 9, 17, true)];
    let closed = [window("nightly", 2, 5, true)];
    let closed_named = [window("nightly", 2, 5, false)];
    let across_midnight_open = [window("late", 12, 2, true)];
    let next_nightly = "skip: outside window \"nightly\", next opens 2026-12-04T02:00:00+01:00";
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("no gates", &[], &opt_in, &[], None, "update", 1),
        ("min-age, never seen before", &[], &cooling, &[], None, "skip: cooling off until 2026-12-03T13:00:00Z", 0),
        ("min-age, seen 30 min ago", &[], &cooling, &[], Some(30), "skip: cooling off until 2026-12-03T12:30:00Z", 0),
        ("min-age, seen exactly an hour ago", &[], &cooling, &[], Some(60), "update", 1),
        ("min-age label beats the default", &[(labels::MIN_AGE, "10m")], &cooling, &[], Some(30), "update", 1),
        ("min-age label, still cooling", &[(labels::MIN_AGE, "2h")], &opt_in, &[], Some(30), "skip: cooling off until 2026-12-03T13:30:00Z", 0),
        ("default window open", &[], &opt_in, &open, None, "update", 1),
        ("default window closed", &[], &opt_in, &closed, None, next_nightly, 0),
        ("named window closed", &[(labels::WINDOW, "nightly")], &opt_in, &closed_named, None, next_nightly, 0),
        ("named window, not the default: unlabelled is free", &[], &opt_in, &closed_named, None, "update", 1),
        ("any escapes the default window", &[(labels::WINDOW, "any")], &opt_in, &closed, None, "update", 1),
        ("window crossing midnight, open", &[], &opt_in, &across_midnight_open, None, "update", 1),
        ("unknown window", &[(labels::WINDOW, "weekends")], &opt_in, &closed, None, "skip: container web: label refit.window=\"weekends\": ", 0),
        ("cooling and closed: cooling first", &[], &cooling, &closed, None, "skip: cooling off until 2026-12-03T13:00:00Z", 0),
        ("cooled but closed", &[], &cooling, &closed, Some(90), next_nightly, 0),
        ("monitor-only is never gated", &[], &monitor, &closed, None, "available", 0),
        ("not selected stays as it was", &[(labels::ENABLE, "false")], &opt_in, &closed, None, "skip: not selected: labelled refit.enable=false", 0),
    ];
    for (case, labels, defaults, windows, seen, expected, in_order) in cases {
        let seen = seen.map(first_seen_ago).unwrap_or_default();
        let (decision, order) = gated(labels, defaults, windows, &seen);
        assert!(
            decision.starts_with(expected),
            "case {case}: {decision:?} does not start with {expected:?}"
        );
        assert_eq!(order, in_order, "case {case}: the order holds only updates");
    }
}

#[test]
fn only_updates_that_cool_off_need_a_first_sighting() {
    let cooling = Defaults {
        min_age: Duration::from_secs(60),
        ..Defaults::default()
    };
    let plan = planned(&[], &cooling);
    assert_eq!(
        needs_first_seen(&plan),
        vec![(REF.parse().unwrap(), test_digest(3))]
    );
    assert!(needs_first_seen(&planned(&[], &Defaults::default())).is_empty());
    let monitored = planned(&[(labels::MONITOR_ONLY, "true")], &cooling);
    assert!(needs_first_seen(&monitored).is_empty());
}

#[test]
fn without_first_sightings_cooling_updates_fail_and_others_go_on() {
    let cooling = Defaults {
        min_age: Duration::from_secs(60),
        ..Defaults::default()
    };
    let mut plan = planned(&[], &cooling);
    fail_min_age(&mut plan, "cannot apply refit.min-age: disk full");
    assert_eq!(
        plan.items[0].decision.to_string(),
        "error: cannot apply refit.min-age: disk full"
    );
    assert!(plan.order.is_empty());
    let mut plain = planned(&[], &Defaults::default());
    fail_min_age(&mut plain, "unused");
    assert_eq!(plain.items[0].decision.to_string(), "update");
}

#[test]
fn a_rolled_back_digest_is_skipped_and_a_newer_one_is_tried() {
    let defaults = Defaults {
        selection: Selection::OptIn,
        ..Defaults::default()
    };
    let mut plan = planned(&[], &defaults);
    let pairs = updates(&plan);
    assert_eq!(pairs, [(REF.parse().unwrap(), test_digest(3))]);
    let why = "the new container exited (exit code 3)";
    let bad = |digest| {
        let rolled_back = RolledBack {
            at: noon(),
            reason: why.into(),
        };
        BTreeMap::from([((pairs[0].0.clone(), digest), rolled_back)])
    };
    skip_rolled_back(&mut plan, &bad(test_digest(3)));
    assert_eq!(
        plan.items[0].decision,
        Decision::Skip(format!(
            "digest {}… was rolled back on 2026-12-03T12:00:00Z: {why}",
            &test_digest(3).as_str()[..19]
        ))
    );
    assert!(plan.order.is_empty(), "a skip is not acted on");

    let mut plan = planned(&[], &defaults);
    skip_rolled_back(&mut plan, &bad(test_digest(9)));
    assert!(matches!(plan.items[0].decision, Decision::Update(_)));
    assert_eq!(plan.order.len(), 1);
}
