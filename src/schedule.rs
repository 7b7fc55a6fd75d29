//! When `refit run` starts a pass: a cron expression in Watchtower's format (6 fields, with
//! seconds, robfig/cron's descriptors) in a time zone, or a fixed interval. Pure: the clock
//! is passed in. The daemon loop that waits for the next tick is not here.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

#[cfg(test)]
mod tests;

/// What `schedule.interval` is when nothing sets it.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// A cron expression evaluated in `tz`; `source` is the text as written (for printing),
    /// `expr` its translation into the cron crate's dialect (boxed: it is ten times the size of
    /// an interval).
    Cron {
        expr: Box<cron::Schedule>,
        source: String,
        tz: Tz,
    },
    /// A pass every this long (`schedule.interval`, `@every <duration>`); never zero.
    Interval(Duration),
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Interval(DEFAULT_INTERVAL)
    }
}

/// Why a schedule expression was refused; the message says what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl Schedule {
    /// Parses a cron expression or descriptor as Watchtower takes it, evaluated in `tz`:
    /// six fields `seconds minutes hours day-of-month month day-of-week` (day-of-week 0–6
    /// from Sunday, or names), or `@every <duration>`, `@hourly`, `@daily`/`@midnight`,
    /// `@weekly`, `@monthly`, `@yearly`/`@annually`.
    pub fn parse(text: &str, tz: Tz) -> Result<Schedule, ParseError> {
        let source = text.trim();
        if let Some(rest) = strip_prefix_ignore_case(source, "@every") {
            return every(source, rest);
        }
        let fields = match descriptor(source) {
            Some(fields) => fields.to_string(),
            None if source.starts_with('@') => {
                return Err(ParseError(format!(
                    "unknown descriptor `{source}`, expected @every <duration>, @hourly, \
                     @daily, @midnight, @weekly, @monthly, @yearly or @annually"
                )));
            }
            None => translate(source)?,
        };
        let expr = cron::Schedule::from_str(&fields)
            .map_err(|e| ParseError(format!("invalid cron expression `{source}`: {e}")))?;
        Ok(Schedule::Cron {
            expr: Box::new(expr),
            source: source.to_string(),
            tz,
        })
    }

    /// The same schedule evaluated in `tz` (an interval has no time zone).
    pub fn with_timezone(self, tz: Tz) -> Schedule {
        match self {
            Schedule::Cron { expr, source, .. } => Schedule::Cron { expr, source, tz },
            interval => interval,
        }
    }

    /// The next pass strictly after `now`: `now + interval`, or the cron expression's next
    /// tick in its time zone. `None` when the expression never fires again (a past year) or
    /// the instant is beyond what chrono represents.
    pub fn next_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval(every) => {
                now.checked_add_signed(chrono::Duration::from_std(*every).ok()?)
            }
            Schedule::Cron { expr, tz, .. } => expr
                .after(&now.with_timezone(tz))
                .map(|t| t.to_utc())
                // A time that happens twice (fall back) yields both instants; the earlier
                // may already be past when `now` sits between them.
                .find(|t| *t > now),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Cron { source, tz, .. } => write!(f, "cron `{source}` ({tz})"),
            Schedule::Interval(every) => {
                write!(f, "every {}", humantime::format_duration(*every))
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `@every <duration>`: Go durations such as `1h30m` or `90s`, or a bare number of seconds.
fn every(source: &str, rest: &str) -> Result<Schedule, ParseError> {
    let text = rest.trim();
    let parsed = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string())
    } else {
        humantime::parse_duration(text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(every) if !every.is_zero() => Ok(Schedule::Interval(every)),
        Ok(_) => Err(ParseError(format!(
            "`{source}`: the interval must be longer than zero"
        ))),
        Err(e) => Err(ParseError(format!(
            "`{source}`: expected @every <duration> such as @every 1h30m: {e}"
        ))),
    }
}

/// robfig/cron's descriptors as six fields; `@weekly` is Sunday midnight, as there.
fn descriptor(text: &str) -> Option<&'static str> {
    Some(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 0 1 1 *",
        "@monthly" => "0 0 0 1 * *",
        "@weekly" => "0 0 0 * * SUN",
        "@daily" | "@midnight" => "0 0 0 * * *",
        "@hourly" => "0 0 * * * *",
        _ => return None,
    })
}

const FIELDS: &str = "seconds minutes hours day-of-month month day-of-week";

/// Watchtower's six fields in the cron crate's dialect. The crate numbers days of the week
/// 1–7 from Sunday where robfig/cron (and so Watchtower) numbers them 0–6, so numbers in
/// that field are shifted; names are the same in both.
fn translate(source: &str) -> Result<String, ParseError> {
    let fields: Vec<&str> = source.split_whitespace().collect();
    if fields.len() != 6 {
        let hint = if fields.len() == 5 {
            " (Watchtower's format: prepend the seconds, `0 ` for a standard 5-field line)"
        } else {
            ""
        };
        return Err(ParseError(format!(
            "invalid cron expression `{source}`: expected 6 fields ({FIELDS}), got {}{hint}",
            fields.len()
        )));
    }
    // robfig/cron fires when either day field matches if both are restricted; the cron crate
    // requires both, so such a line would silently fire less often. Refuse it instead.
    let unrestricted = |field: &str| field == "*" || field == "?";
    if !unrestricted(fields[3]) && !unrestricted(fields[5]) {
        return Err(ParseError(format!(
            "invalid cron expression `{source}`: day-of-month and day-of-week are both set; \
             Watchtower runs when either matches, refit cannot: set one of them to *"
        )));
    }
    let dow = shift_days_of_week(fields[5])
        .map_err(|why| ParseError(format!("invalid cron expression `{source}`: {why}")))?;
    Ok(format!("{} {dow}", fields[..5].join(" ")))
}

/// `1-5` → `2-6`, `0,6` → `1,7`, `1/2` → `2/2` (the step is a count, not a day); names,
/// `*` and `?` stay.
fn shift_days_of_week(field: &str) -> Result<String, String> {
    let shift = |day: &str| -> Result<String, String> {
        if !day.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(day.to_string());
        }
        match day.parse::<u8>() {
            Ok(n @ 0..=6) => Ok((n + 1).to_string()),
            _ => Err(format!(
                "day-of-week `{day}` is out of range 0-6 (0 is Sunday)"
            )),
        }
    };
    let items = field.split(',').map(|item| {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        let range = match range.split_once('-') {
            Some((from, to)) => format!("{}-{}", shift(from)?, shift(to)?),
            None => shift(range)?,
        };
        Ok(match step {
            Some(step) => format!("{range}/{step}"),
            None => range,
        })
    });
    Ok(items.collect::<Result<Vec<_>, String>>()?.join(","))
}
