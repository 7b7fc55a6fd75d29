//! Schedules at fixed instants. 2026-12-04 is a Friday; Europe/Berlin springs forward on
//! 2026-03-29 and falls back on 2026-10-25.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn cron(text: &str, tz: Tz) -> Schedule {
    Schedule::parse(text, tz).unwrap()
}

fn next(schedule: &Schedule, now: &str) -> DateTime<Utc> {
    schedule.next_after(at(now)).unwrap()
}

fn error(text: &str) -> String {
    Schedule::parse(text, Tz::UTC).unwrap_err().to_string()
}

#[test]
fn cron_in_utc_is_strictly_after_now() {
    let s = cron("0 0 4 * * *", Tz::UTC);
    assert_eq!(next(&s, "2026-12-04T00:38:00Z"), at("2026-12-04T04:00:00Z"));
    assert_eq!(next(&s, "2026-12-04T04:00:00Z"), at("2026-12-05T04:00:00Z"));
    assert_eq!(next(&s, "2026-12-04T03:59:59Z"), at("2026-12-04T04:00:00Z"));
    let s = cron("*/15 * * * * *", Tz::UTC);
    assert_eq!(next(&s, "2026-12-04T00:38:07Z"), at("2026-12-04T00:38:15Z"));
}

#[test]
fn cron_in_berlin_follows_local_time_across_dst() {
    let berlin = chrono_tz::Europe::Berlin;
    let s = cron("0 0 4 * * *", berlin);
    // 04:00 CET is 03:00 UTC; after the change, 04:00 CEST is 02:00 UTC.
    let first = next(&s, "2026-03-27T12:00:00Z");
    assert_eq!(first, at("2026-03-28T03:00:00Z"));
    assert_eq!(s.next_after(first), Some(at("2026-03-29T02:00:00Z")));
    let s = cron("0 0 4 * * *", berlin);
    assert_eq!(next(&s, "2026-10-24T12:00:00Z"), at("2026-10-25T03:00:00Z"));
}

#[test]
fn cron_tick_in_a_dst_gap_is_skipped_and_a_repeated_one_runs_once() {
    let berlin = chrono_tz::Europe::Berlin;
    let s = cron("0 30 2 * * *", berlin);
    // 2026-03-29 02:30 does not exist in Berlin; the next tick is the day after.
    assert_eq!(next(&s, "2026-03-28T12:00:00Z"), at("2026-03-30T00:30:00Z"));
    // 2026-10-25 02:30 happens twice: the first (CEST, 00:30 UTC) is the tick...
    let first = next(&s, "2026-10-24T12:00:00Z");
    assert_eq!(first, at("2026-10-25T00:30:00Z"));
    // ...and the next one is the day after, not an hour later.
    assert_eq!(s.next_after(first), Some(at("2026-10-26T01:30:00Z")));
    // Between the two, the second one is still ahead.
    assert_eq!(next(&s, "2026-10-25T01:10:00Z"), at("2026-10-25T01:30:00Z"));
}

#[test]
fn day_of_week_numbers_are_watchtowers() {
    // Watchtower (robfig/cron) counts 0 = Sunday to 6 = Saturday.
    let cases = [
        ("0 0 4 * * 0", "2026-12-06T04:00:00Z"),
        ("0 0 4 * * 1", "2026-12-07T04:00:00Z"),
        ("0 0 4 * * 6", "2026-12-05T04:00:00Z"),
        ("0 0 4 * * MON", "2026-12-07T04:00:00Z"),
        ("0 0 4 * * mon-fri", "2026-12-04T04:00:00Z"),
        ("0 0 4 * * 1-5", "2026-12-04T04:00:00Z"),
        ("0 0 4 ? * 0,6", "2026-12-05T04:00:00Z"),
    ];
    for (text, expected) in cases {
        let s = cron(text, Tz::UTC);
        assert_eq!(next(&s, "2026-12-04T00:38:00Z"), at(expected), "{text}");
    }
    // 1-5 excludes the weekend.
    let s = cron("0 0 4 * * 1-5", Tz::UTC);
    assert_eq!(next(&s, "2026-12-04T05:00:00Z"), at("2026-12-07T04:00:00Z"));
}

#[test]
fn interval_and_every() {
    let s = Schedule::Interval(Duration::from_secs(90));
    assert_eq!(next(&s, "2026-12-04T00:38:00Z"), at("2026-12-04T00:39:30Z"));
    assert_eq!(Schedule::default(), Schedule::Interval(DEFAULT_INTERVAL));
    let cases = [
        ("@every 1h30m", 5400),
        ("@every 90s", 90),
        ("@every 5m", 300),
        ("@every 300", 300),
        ("@EVERY 2h", 7200),
    ];
    for (text, seconds) in cases {
        let parsed = Schedule::parse(text, Tz::UTC);
        assert_eq!(
            parsed,
            Ok(Schedule::Interval(Duration::from_secs(seconds))),
            "{text}"
        );
    }
}

#[test]
fn descriptors() {
    let cases = [
        ("@hourly", "2026-12-04T01:00:00Z"),
        ("@daily", "2026-12-05T00:00:00Z"),
        ("@midnight", "2026-12-05T00:00:00Z"),
        ("@weekly", "2026-12-06T00:00:00Z"),
        ("@monthly", "2027-01-01T00:00:00Z"),
        ("@yearly", "2027-01-01T00:00:00Z"),
        ("@annually", "2027-01-01T00:00:00Z"),
        ("@Daily", "2026-12-05T00:00:00Z"),
    ];
    for (text, expected) in cases {
        let s = cron(text, Tz::UTC);
        assert_eq!(next(&s, "2026-12-04T00:38:00Z"), at(expected), "{text}");
    }
    // A descriptor is local time too.
    let s = cron("@daily", chrono_tz::America::New_York);
    assert_eq!(next(&s, "2026-12-04T00:38:00Z"), at("2026-12-04T05:00:00Z"));
}

#[test]
fn source_and_time_zone_are_kept() {
    let s = cron(" 0 0 4 * * 1 ", Tz::UTC).with_timezone(chrono_tz::Europe::Berlin);
    let Schedule::Cron { source, tz, .. } = &s else {
        panic!("{s:?}")
    };
    assert_eq!(
        (source.as_str(), *tz),
        ("0 0 4 * * 1", chrono_tz::Europe::Berlin)
    );
    assert_eq!(s.to_string(), "cron `0 0 4 * * 1` (Europe/Berlin)");
    assert_eq!(
        Schedule::Interval(Duration::from_secs(5400)).to_string(),
        "every 1h 30m"
    );
    // An interval has no time zone to change.
    let every = Schedule::Interval(Duration::from_secs(60));
    assert_eq!(
        every.clone().with_timezone(chrono_tz::Europe::Berlin),
        every
    );
}

#[test]
fn errors_say_what_is_expected() {
    assert_eq!(
        error("0 4 * * *"),
        "invalid cron expression `0 4 * * *`: expected 6 fields (seconds minutes hours \
         day-of-month month day-of-week), got 5 (Watchtower's format: prepend the seconds, \
         `0 ` for a standard 5-field line)"
    );
    assert_eq!(
        error("0 0 4 * * * 2027"),
        "invalid cron expression `0 0 4 * * * 2027`: expected 6 fields (seconds minutes hours \
         day-of-month month day-of-week), got 7"
    );
    assert_eq!(
        error(""),
        "invalid cron expression ``: expected 6 fields (seconds minutes hours day-of-month \
         month day-of-week), got 0"
    );
    assert_eq!(
        error("0 0 4 * * 7"),
        "invalid cron expression `0 0 4 * * 7`: day-of-week `7` is out of range 0-6 \
         (0 is Sunday)"
    );
    assert_eq!(
        error("0 0 4 1 * MON"),
        "invalid cron expression `0 0 4 1 * MON`: day-of-month and day-of-week are both set; \
         Watchtower runs when either matches, refit cannot: set one of them to *"
    );
    assert!(
        error("0 0 25 * * *").starts_with("invalid cron expression `0 0 25 * * *`: "),
        "{}",
        error("0 0 25 * * *")
    );
    assert!(error("0 0 4 * * funday").starts_with("invalid cron expression"));
    assert_eq!(
        error("@fortnightly"),
        "unknown descriptor `@fortnightly`, expected @every <duration>, @hourly, @daily, \
         @midnight, @weekly, @monthly, @yearly or @annually"
    );
    assert_eq!(
        error("@every 0s"),
        "`@every 0s`: the interval must be longer than zero"
    );
    assert!(
        error("@every soon").starts_with("`@every soon`: expected @every <duration> such as"),
        "{}",
        error("@every soon")
    );
}
