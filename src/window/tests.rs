//! Windows at fixed instants. 2026-12-07 is a Monday; Europe/Berlin springs forward on
//! 2026-03-29 (02:00–03:00 does not exist) and falls back on 2026-10-25 (02:00–03:00 happens
//! twice).

use chrono::Weekday::{self, *};
use chrono::{DateTime, NaiveTime, Utc, WeekdaySet};
use chrono_tz::Tz;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap()
}

fn window(days: &[Weekday], start: &str, end: &str, tz: Tz) -> Window {
    Window {
        name: "w".into(),
        days: days.iter().copied().collect(),
        start: time(start),
        end: time(end),
        tz,
        default: false,
    }
}

/// Asserts `is_open` at each instant.
fn check(window: &Window, cases: &[(&str, bool)]) {
    for (instant, open) in cases {
        assert_eq!(window.is_open(at(instant)), *open, "{instant}");
    }
}

#[test]
fn plain_day_window() {
    let w = window(&[Mon, Tue, Wed, Thu, Fri], "02:00", "05:00", Tz::UTC);
    check(
        &w,
        &[
            ("2026-12-07T01:59:59Z", false),
            ("2026-12-07T02:00:00Z", true),
            ("2026-12-07T04:59:59Z", true),
            ("2026-12-07T05:00:00Z", false),
            ("2026-12-11T03:00:00Z", true),
            // Saturday and Sunday are not listed.
            ("2026-12-05T03:00:00Z", false),
            ("2026-12-06T03:00:00Z", false),
        ],
    );
}

#[test]
fn midnight_crossing_window_belongs_to_the_day_it_opens() {
    let w = window(&[Mon], "22:00", "02:00", Tz::UTC);
    check(
        &w,
        &[
            ("2026-12-07T21:59:59Z", false),
            ("2026-12-07T22:00:00Z", true),
            ("2026-12-08T01:59:59Z", true),
            ("2026-12-08T02:00:00Z", false),
            // Monday 01:00 would belong to a Sunday opening; Sunday is not listed.
            ("2026-12-07T01:00:00Z", false),
            ("2026-12-08T22:30:00Z", false),
        ],
    );
}

#[test]
fn start_equal_to_end_is_a_whole_day() {
    let w = window(&[Mon], "12:00", "12:00", Tz::UTC);
    check(
        &w,
        &[
            ("2026-12-07T11:59:59Z", false),
            ("2026-12-07T12:00:00Z", true),
            ("2026-12-08T11:59:59Z", true),
            ("2026-12-08T12:00:00Z", false),
        ],
    );
    let always = window(
        &[Mon, Tue, Wed, Thu, Fri, Sat, Sun],
        "00:00",
        "00:00",
        Tz::UTC,
    );
    for instant in ["2026-12-05T00:00:00Z", "2026-12-07T23:59:59Z"] {
        assert!(always.is_open(at(instant)), "{instant}");
    }
}

#[test]
fn start_in_the_spring_forward_gap_opens_when_the_gap_ends() {
    let berlin = chrono_tz::Europe::Berlin;
    // 02:30 does not exist: the window opens at 03:00 CEST (01:00 UTC), closes 04:00 CEST.
    let w = window(&[Sun], "02:30", "04:00", berlin);
    check(
        &w,
        &[
            ("2026-03-29T00:59:59Z", false),
            ("2026-03-29T01:00:00Z", true),
            ("2026-03-29T01:59:59Z", true),
            ("2026-03-29T02:00:00Z", false),
        ],
    );
    let next = w.next_open(at("2026-03-28T12:00:00Z"));
    assert_eq!(next, Some(at("2026-03-29T01:00:00Z")));
    // The week before, 02:30 CET is 01:30 UTC.
    let next = w.next_open(at("2026-03-21T12:00:00Z"));
    assert_eq!(next, Some(at("2026-03-22T01:30:00Z")));

    // An end in the gap closes when the gap ends: 01:00 CET to 03:00 CEST.
    let w = window(&[Sun], "01:00", "02:30", berlin);
    check(
        &w,
        &[
            ("2026-03-29T00:00:00Z", true),
            ("2026-03-29T00:59:59Z", true),
            ("2026-03-29T01:00:00Z", false),
        ],
    );
}

#[test]
fn window_swallowed_by_the_gap_does_not_open_that_day() {
    let w = window(&[Sun], "02:00", "02:59", chrono_tz::Europe::Berlin);
    assert!(!w.is_open(at("2026-03-29T01:00:00Z")));
    // The next Sunday, 02:00 CEST is 00:00 UTC.
    let next = w.next_open(at("2026-03-28T12:00:00Z"));
    assert_eq!(next, Some(at("2026-04-05T00:00:00Z")));
}

#[test]
fn ambiguous_times_at_fall_back_take_the_earlier_instant() {
    let berlin = chrono_tz::Europe::Berlin;
    // 02:30 happens at 00:30 UTC (CEST) and at 01:30 UTC (CET): the window opens at the
    // first; 03:30 CET is 02:30 UTC, so it lasts two hours.
    let w = window(&[Sun], "02:30", "03:30", berlin);
    check(
        &w,
        &[
            ("2026-10-25T00:29:59Z", false),
            ("2026-10-25T00:30:00Z", true),
            ("2026-10-25T01:45:00Z", true),
            ("2026-10-25T02:29:59Z", true),
            ("2026-10-25T02:30:00Z", false),
        ],
    );
    // An ambiguous end closes at its earlier instant too: 01:00 CEST to 02:30 CEST.
    let w = window(&[Sun], "01:00", "02:30", berlin);
    check(
        &w,
        &[
            ("2026-10-24T23:00:00Z", true),
            ("2026-10-25T00:29:59Z", true),
            ("2026-10-25T00:30:00Z", false),
            ("2026-10-25T01:00:00Z", false),
        ],
    );
}

#[test]
fn new_york_window_against_utc_instants() {
    let ny = chrono_tz::America::New_York;
    let w = window(&[Mon, Tue, Wed, Thu, Fri], "09:00", "17:00", ny);
    check(
        &w,
        &[
            // December: EST, UTC-5.
            ("2026-12-07T13:59:59Z", false),
            ("2026-12-07T14:00:00Z", true),
            ("2026-12-07T21:59:59Z", true),
            ("2026-12-07T22:00:00Z", false),
            // July: EDT, UTC-4. 2026-07-06 is a Monday.
            ("2026-07-06T12:59:59Z", false),
            ("2026-07-06T13:00:00Z", true),
            ("2026-07-06T20:59:59Z", true),
            ("2026-07-06T21:00:00Z", false),
        ],
    );
    // Friday evening in New York is Saturday in UTC: the day is the local one.
    let w = window(&[Fri], "20:00", "23:00", ny);
    check(
        &w,
        &[
            ("2026-12-12T01:30:00Z", true),
            ("2026-12-11T20:30:00Z", false),
        ],
    );
}

#[test]
fn next_open_from_outside_and_inside() {
    let w = window(&[Mon, Tue, Wed, Thu, Fri], "02:00", "05:00", Tz::UTC);
    let cases = [
        // Saturday: the next opening is Monday's.
        ("2026-12-05T12:00:00Z", "2026-12-07T02:00:00Z"),
        ("2026-12-07T01:59:59Z", "2026-12-07T02:00:00Z"),
        // Inside (or at) an opening, the next one is the following day's.
        ("2026-12-07T02:00:00Z", "2026-12-08T02:00:00Z"),
        ("2026-12-07T03:00:00Z", "2026-12-08T02:00:00Z"),
        // Friday's is followed by Monday's.
        ("2026-12-11T03:00:00Z", "2026-12-14T02:00:00Z"),
    ];
    for (now, next) in cases {
        assert_eq!(w.next_open(at(now)), Some(at(next)), "{now}");
    }
    let crossing = window(&[Mon], "22:00", "02:00", Tz::UTC);
    let next = crossing.next_open(at("2026-12-08T01:00:00Z"));
    assert_eq!(next, Some(at("2026-12-14T22:00:00Z")));
    let ny = window(&[Mon], "09:00", "17:00", chrono_tz::America::New_York);
    let next = ny.next_open(at("2026-12-07T12:00:00Z"));
    assert_eq!(next, Some(at("2026-12-07T14:00:00Z")));
}

#[test]
fn window_without_days_never_opens() {
    let w = window(&[], "02:00", "05:00", Tz::UTC);
    assert_eq!(w.days, WeekdaySet::EMPTY);
    assert!(!w.is_open(at("2026-12-07T03:00:00Z")));
    assert_eq!(w.next_open(at("2026-12-07T03:00:00Z")), None);
}

#[test]
fn applicable_window() {
    let named = |name: &str, default: bool| Window {
        name: name.into(),
        default,
        ..window(&[Mon], "02:00", "05:00", Tz::UTC)
    };
    let windows = [named("nightly", false), named("weekend", true)];
    let name = |r: Result<Option<&Window>, String>| r.map(|w| w.map(|w| w.name.clone()));

    assert_eq!(name(applicable(&windows, None)), Ok(Some("weekend".into())));
    assert_eq!(
        name(applicable(&windows, Some("nightly"))),
        Ok(Some("nightly".into()))
    );
    assert_eq!(
        name(applicable(&windows, Some(" nightly "))),
        Ok(Some("nightly".into()))
    );
    assert_eq!(name(applicable(&windows, Some("any"))), Ok(None));
    assert_eq!(name(applicable(&windows, Some("ANY"))), Ok(None));
    assert_eq!(
        name(applicable(&windows, Some("daily"))),
        Err(
            "unknown window \"daily\", known windows: \"nightly\", \"weekend\" (or \"any\" for \
             none)"
                .into()
        )
    );
    // Without a default window, an unlabelled container has none.
    assert_eq!(name(applicable(&windows[..1], None)), Ok(None));
    assert_eq!(name(applicable(&[], None)), Ok(None));
    assert_eq!(
        name(applicable(&[], Some("nightly"))),
        Err("unknown window \"nightly\": no windows are configured (use \"any\" for none)".into())
    );
}
