//! Value types for `[schedule]` and `[[window]]`: cron expressions, time zones, weekdays and
//! clock times, parsed the same way from the file and the environment (see `value`). Each
//! validates inside its `Deserialize`, so a file error points at the value.

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::value::{DurationValue, InvalidValue, deserialize_parsed, format_duration};
use crate::schedule::Schedule;

/// `schedule.cron`: Watchtower's 6-field cron or a descriptor, checked at parse time (in UTC;
/// the conversion moves it to `schedule.timezone`). Empty means unset: `interval` applies.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct CronValue(pub Option<Schedule>);

impl FromStr for CronValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        if input.trim().is_empty() {
            return Ok(CronValue(None));
        }
        Schedule::parse(input, Tz::UTC)
            .map(|s| CronValue(Some(s)))
            .map_err(|e| InvalidValue(e.to_string()))
    }
}

impl Serialize for CronValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            None => serializer.serialize_str(""),
            Some(Schedule::Cron { source, .. }) => serializer.serialize_str(source),
            Some(Schedule::Interval(every)) => {
                let every = format_duration(*every);
                serializer.serialize_str(&format!("@every {every}"))
            }
        }
    }
}

impl<'de> Deserialize<'de> for CronValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// `schedule.interval`: a duration as everywhere (a bare number is seconds, as
/// `WATCHTOWER_POLL_INTERVAL`), but never zero, which would mean a pass in a tight loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) struct IntervalValue(pub DurationValue);

impl IntervalValue {
    fn checked(value: DurationValue) -> Result<Self, InvalidValue> {
        if value.0.is_zero() {
            return Err(InvalidValue("the interval must be longer than zero".into()));
        }
        Ok(IntervalValue(value))
    }
}

impl FromStr for IntervalValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        IntervalValue::checked(input.parse()?)
    }
}

impl<'de> Deserialize<'de> for IntervalValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = DurationValue::deserialize(deserializer)?;
        IntervalValue::checked(value).map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`). A leading `:` is dropped, as the C
/// library does for `TZ=:Europe/Berlin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimezoneValue(pub Tz);

impl FromStr for TimezoneValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let name = input.trim();
        let name = name.strip_prefix(':').unwrap_or(name);
        name.parse().map(TimezoneValue).map_err(|_| {
            InvalidValue(format!(
                "unknown time zone `{input}`, expected an IANA name such as `Europe/Berlin` \
                 or `UTC`"
            ))
        })
    }
}

impl Serialize for TimezoneValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimezoneValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// A weekday in `days`: `mon` … `sun` or the full name, any case; printed short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DayValue(pub Weekday);

const DAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Mon, "mon", "monday"),
    (Weekday::Tue, "tue", "tuesday"),
    (Weekday::Wed, "wed", "wednesday"),
    (Weekday::Thu, "thu", "thursday"),
    (Weekday::Fri, "fri", "friday"),
    (Weekday::Sat, "sat", "saturday"),
    (Weekday::Sun, "sun", "sunday"),
];

impl FromStr for DayValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        let text = input.trim();
        DAYS.iter()
            .find(|(_, short, long)| {
                text.eq_ignore_ascii_case(short) || text.eq_ignore_ascii_case(long)
            })
            .map(|(day, _, _)| DayValue(*day))
            .ok_or_else(|| {
                InvalidValue(format!(
                    "unknown day `{input}`, expected mon, tue, wed, thu, fri, sat or sun \
                     (or the full name)"
                ))
            })
    }
}

impl Serialize for DayValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let short = DAYS
            .iter()
            .find(|(day, _, _)| *day == self.0)
            .map_or("", |(_, short, _)| short);
        serializer.serialize_str(short)
    }
}

impl<'de> Deserialize<'de> for DayValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}

/// A window's `start` or `end`: `HH:MM`, 00:00 to 23:59 (an end of midnight is `00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimeValue(pub NaiveTime);

const TIME_FORMAT: &str = "%H:%M";

impl FromStr for TimeValue {
    type Err = InvalidValue;

    fn from_str(input: &str) -> Result<Self, InvalidValue> {
        NaiveTime::parse_from_str(input.trim(), TIME_FORMAT)
            .map(TimeValue)
            .map_err(|_| {
                InvalidValue(format!(
                    "invalid time `{input}`, expected HH:MM from 00:00 to 23:59"
                ))
            })
    }
}

impl fmt::Display for TimeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(TIME_FORMAT))
    }
}

impl Serialize for TimeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TimeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer)
    }
}
