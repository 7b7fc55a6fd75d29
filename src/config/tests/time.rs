//! Tests of `[schedule]`, `[[window]]`, `[state]` and the time-related policy keys: values,
//! the Watchtower aliases and error positions.

use std::time::Duration;

use chrono::{NaiveTime, Weekday, WeekdaySet};
use chrono_tz::Tz;

use super::*;

fn interval(seconds: u64) -> Schedule {
    Schedule::Interval(Duration::from_secs(seconds))
}

#[test]
fn cron_wins_over_interval_and_runs_in_the_time_zone() {
    let config = parse("[schedule]\ninterval = \"1h\"\n");
    assert_eq!(config.schedule.schedule, interval(3600));
    // A bare number is seconds, as Watchtower's poll interval.
    assert_eq!(
        parse("[schedule]\ninterval = 300\n").schedule.schedule,
        interval(300)
    );

    let text = "[schedule]\ncron = \"0 0 4 * * *\"\ninterval = \"1h\"\ntimezone = \"Asia/Tokyo\"\n";
    let config = parse(text);
    let expected = Schedule::parse("0 0 4 * * *", chrono_tz::Asia::Tokyo).unwrap();
    assert_eq!(config.schedule.schedule, expected);
    assert_eq!(config.schedule.timezone, chrono_tz::Asia::Tokyo);
    let next = config
        .schedule
        .schedule
        .next_after("2026-12-04T00:00:00Z".parse().unwrap());
    assert_eq!(next, Some("2026-12-04T19:00:00Z".parse().unwrap()));

    // An empty cron is unset; `@every` is an interval.
    let config = parse("[schedule]\ncron = \"\"\ninterval = \"2h\"\n");
    assert_eq!(config.schedule.schedule, interval(7200));
    let config = parse("[schedule]\ncron = \"@every 90m\"\n");
    assert_eq!(config.schedule.schedule, interval(5400));
    let printed = config.to_toml_redacted();
    assert!(
        printed.contains("cron = \"\"\ninterval = \"1h 30m\"\n"),
        "{printed}"
    );
}

#[test]
fn windows_take_the_schedule_time_zone_unless_they_name_one() {
    let text = "[schedule]\ntimezone = \"Europe/Berlin\"\n\n\
                [[window]]\nname = \"a\"\nstart = \"02:00\"\nend = \"05:00\"\n\n\
                [[window]]\nname = \"b\"\ndays = [\"Saturday\", \"SUN\"]\nstart = \"22:00\"\n\
                end = \"02:00\"\ntimezone = \"UTC\"\ndefault = false\n";
    let config = parse(text);
    let time = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
    assert_eq!(
        config.windows,
        [
            Window {
                name: "a".into(),
                days: WeekdaySet::ALL,
                start: time(2),
                end: time(5),
                tz: chrono_tz::Europe::Berlin,
                default: false,
            },
            Window {
                name: "b".into(),
                days: WeekdaySet::from_array([Weekday::Sat, Weekday::Sun]),
                start: time(22),
                end: time(2),
                tz: Tz::UTC,
                default: false,
            },
        ]
    );
    // TZ moves the schedule and the windows that name no zone.
    let config = load_text(
        text.replacen("timezone = \"Europe/Berlin\"", "", 1)
            .as_str(),
        &env(&[("TZ", ":America/New_York")]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(config.schedule.timezone, chrono_tz::America::New_York);
    assert_eq!(config.windows[0].tz, chrono_tz::America::New_York);
    assert_eq!(config.windows[1].tz, Tz::UTC);

    let printed = config.to_toml_redacted();
    assert!(
        printed.contains(
            "[[window]]\nname = \"b\"\ndays = [\"sat\", \"sun\"]\nstart = \"22:00\"\n\
             end = \"02:00\"\ntimezone = \"UTC\"\ndefault = false\n"
        ),
        "{printed}"
    );
    assert!(
        printed.contains("days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]")
    );
    assert_eq!(
        parse(&printed),
        Config {
            source: Some(PATH.into()),
            ..config
        }
    );
}

#[test]
fn policy_update_min_age_and_state_path() {
    let config = parse(
        "[policy]\nupdate = \"SEMVER-MAJOR\"\nmin_age = \"3d\"\n[state]\npath = \"/srv/refit.db\"\n",
    );
    assert_eq!(config.policy.update, Strategy::SemverMajor);
    assert_eq!(config.policy.min_age, Duration::from_secs(3 * 24 * 3600));
    assert_eq!(config.state.path, Path::new("/srv/refit.db"));
    assert!(config.to_toml_redacted().contains("min_age = \"72h\""));
    for strategy in Strategy::ALL {
        let config = parse(&format!("[policy]\nupdate = \"{}\"\n", strategy.as_str()));
        assert_eq!(config.policy.update, strategy);
    }
    // An empty path means the default.
    let config = parse("[state]\npath = \"\"\n");
    assert_eq!(config.state.path, Path::new(DEFAULT_STATE_PATH));
}

#[test]
fn state_path_is_relative_to_the_file() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("refit.toml");
    std::fs::write(&path, "[state]\npath = \"data/refit.db\"\n").unwrap();
    let config = Config::load(Some(&path), &no_env, &Overrides::default()).unwrap();
    assert_eq!(config.state.path, dir.path().join("data/refit.db"));
}

#[test]
fn watchtower_schedule_aliases() {
    let config = from_env(&[
        ("WATCHTOWER_SCHEDULE", "0 0 4 * * *"),
        ("TZ", "Europe/Berlin"),
        ("WATCHTOWER_RUN_ONCE", "true"),
    ])
    .unwrap();
    let expected = Schedule::parse("0 0 4 * * *", chrono_tz::Europe::Berlin).unwrap();
    assert_eq!(config.schedule.schedule, expected);
    assert!(config.schedule.run_once);

    let config = from_env(&[("WATCHTOWER_POLL_INTERVAL", "300")]).unwrap();
    assert_eq!(config.schedule.schedule, interval(300));

    // REFIT_* beats the alias.
    let config = from_env(&[
        ("WATCHTOWER_SCHEDULE", "0 0 4 * * *"),
        ("REFIT_SCHEDULE_CRON", "@hourly"),
        ("TZ", "Europe/Berlin"),
        ("REFIT_SCHEDULE_TIMEZONE", "UTC"),
        ("WATCHTOWER_RUN_ONCE", "true"),
        ("REFIT_SCHEDULE_RUN_ONCE", "false"),
    ])
    .unwrap();
    assert_eq!(
        config.schedule.schedule,
        Schedule::parse("@hourly", Tz::UTC).unwrap()
    );
    assert!(!config.schedule.run_once);
    // An environment cron beats the file's interval.
    let config = load_text(
        "[schedule]\ninterval = \"1h\"\n",
        &env(&[("WATCHTOWER_SCHEDULE", "@daily")]),
        &Overrides::default(),
    );
    assert_eq!(
        config.unwrap().schedule.schedule,
        Schedule::parse("@daily", Tz::UTC).unwrap()
    );
}

#[test]
fn bad_time_values_name_file_line_and_column() {
    let window = |body: &str| format!("[[window]]\nname = \"w\"\n{body}");
    let cases = [
        (
            "[schedule]\ncron = \"0 4 * * *\"\n".to_string(),
            "2:8: invalid cron expression `0 4 * * *`: expected 6 fields (seconds minutes hours \
             day-of-month month day-of-week), got 5 (Watchtower's format: prepend the seconds, \
             `0 ` for a standard 5-field line)",
        ),
        (
            "[schedule]\ntimezone = \"Europe/Berln\"\n".to_string(),
            "2:12: unknown time zone `Europe/Berln`, expected an IANA name such as \
             `Europe/Berlin` or `UTC`",
        ),
        (
            "[schedule]\ninterval = \"0s\"\n".to_string(),
            "2:12: the interval must be longer than zero",
        ),
        (
            "[policy]\nupdate = \"latest\"\n".to_string(),
            "2:10: unknown update strategy `latest`, expected one of `digest`, `semver-patch`, \
             `semver-minor`, `semver-major`, `none`",
        ),
        (
            window("days = [\"mon\", \"fry\"]\nstart = \"02:00\"\nend = \"05:00\"\n"),
            "3:8: unknown day `fry`, expected mon, tue, wed, thu, fri, sat or sun (or the full \
             name)",
        ),
        (
            window("start = \"2am\"\nend = \"05:00\"\n"),
            "3:9: invalid time `2am`, expected HH:MM from 00:00 to 23:59",
        ),
        (
            window("start = \"02:00\"\nend = \"24:00\"\n"),
            "4:7: invalid time `24:00`, expected HH:MM from 00:00 to 23:59",
        ),
        (
            window("start = \"02:00\"\nend = \"05:00\"\ntimezone = \"CEST\"\n"),
            "5:12: unknown time zone `CEST`, expected an IANA name such as `Europe/Berlin` or \
             `UTC`",
        ),
        (window("start = \"02:00\"\n"), "1:1: missing field `end`"),
        (
            window("start = \"02:00\"\nend = \"05:00\"\nopen = true\n"),
            "5:1: unknown field `open`, expected one of `name`, `days`, `start`, `end`, \
             `timezone`, `default`",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(file_error(&text), format!("{PATH}:{expected}"), "{text}");
    }
}

#[test]
fn windows_wrong_together_name_file_line_and_column() {
    let window = |name: &str, extra: &str| {
        format!("[[window]]\nname = \"{name}\"\nstart = \"02:00\"\nend = \"05:00\"\n{extra}\n")
    };
    let cases = [
        (
            format!("{}{}", window("nightly", ""), window("nightly", "")),
            "7:8: duplicate window name `nightly`",
        ),
        (
            format!(
                "{}{}",
                window("a", "default = true"),
                window("b", "default = true")
            ),
            "10:11: window `b` is the default, but so is window `a`: at most one window may be \
             the default",
        ),
        (
            window("w", "days = []"),
            "5:8: window `w` has no days and would never open; leave days out for every day",
        ),
        (
            window(" ", ""),
            "2:8: a window needs a name (refit.window labels refer to it)",
        ),
        (
            window("Any", ""),
            "2:8: window name `Any` is reserved: refit.window=any means no window",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(file_error(&text), format!("{PATH}:{expected}"), "{text}");
    }
}

#[test]
fn bad_time_variables_name_the_variable() {
    let cases = [
        (
            ("WATCHTOWER_SCHEDULE", "0 4 * * *"),
            "environment variable WATCHTOWER_SCHEDULE=`0 4 * * *`: invalid cron expression \
             `0 4 * * *`: expected 6 fields (seconds minutes hours day-of-month month \
             day-of-week), got 5 (Watchtower's format: prepend the seconds, `0 ` for a standard \
             5-field line)",
        ),
        (
            ("TZ", "Mars/Olympus"),
            "environment variable TZ=`Mars/Olympus`: unknown time zone `Mars/Olympus`, expected \
             an IANA name such as `Europe/Berlin` or `UTC`",
        ),
        (
            ("WATCHTOWER_POLL_INTERVAL", "0"),
            "environment variable WATCHTOWER_POLL_INTERVAL=`0`: the interval must be longer \
             than zero",
        ),
        (
            ("REFIT_POLICY_UPDATE", "latest"),
            "environment variable REFIT_POLICY_UPDATE=`latest`: unknown update strategy \
             `latest`, expected one of `digest`, `semver-patch`, `semver-minor`, \
             `semver-major`, `none`",
        ),
        (
            ("WATCHTOWER_RUN_ONCE", "once"),
            "environment variable WATCHTOWER_RUN_ONCE=`once`: expected a boolean (true/false, \
             1/0, yes/no), got `once`",
        ),
        (
            ("REFIT_POLICY_MIN_AGE", "a while"),
            "environment variable REFIT_POLICY_MIN_AGE=`a while`: invalid duration `a while`: \
             expected number at 0",
        ),
    ];
    for ((name, value), expected) in cases {
        let error = from_env(&[(name, value)]).unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
}
