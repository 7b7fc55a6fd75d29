//! Maintenance windows: the weekly periods in which updates may be *applied* (checks and
//! reports happen at any time). Pure: the clock is passed in, so every rule is tested at fixed
//! instants. Which window applies to a container is `applicable`; the gate that holds an
//! update back lives in `plan::gate`.

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono::{Datelike, TimeDelta, Timelike, WeekdaySet};
use chrono_tz::Tz;

#[cfg(test)]
mod tests;

/// The `refit.window` value that means "no window applies, update at any time".
pub const ANY: &str = "any";

/// A `[[window]]`: open on each of `days` from `start` to `end`, local time in `tz`.
///
/// When `end <= start` the window crosses midnight and a listed day is the day it *opens*
/// (mon 22:00–02:00 is open Monday 22:00 to Tuesday 02:00); `start == end` is a whole 24 hours.
/// A local time that does not exist (spring forward) means the first instant after the gap; one
/// that happens twice (fall back) means the earlier instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub name: String,
    pub days: WeekdaySet,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub tz: Tz,
    /// Applies to containers without a `refit.window` label; at most one window has it.
    pub default: bool,
}

impl Window {
    /// True when `now` is inside an opening (its start included, its end excluded).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let today = now.with_timezone(&self.tz).date_naive();
        // An opening lasts at most one local day, so only one opened today or yesterday can
        // still be open.
        [today.pred_opt(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|day| self.opening(day))
            .any(|(open, close)| open <= now && now < close)
    }

    /// The next instant strictly after `now` at which the window opens (inside an opening,
    /// that is the following one); `None` only when it never opens (no days).
    pub fn next_open(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.days.is_empty() {
            return None;
        }
        let today = now.with_timezone(&self.tz).date_naive();
        // Every listed weekday comes round within a week; the extra days cover an opening
        // that a DST gap swallows whole (start and end both inside the gap).
        (0..=15)
            .filter_map(|n| today.checked_add_days(Days::new(n)))
            .filter_map(|day| self.opening(day))
            .map(|(open, _)| open)
            .find(|open| *open > now)
    }

    /// The opening that starts on local date `day`, as UTC instants `[open, close)`; `None`
    /// when `day` is not listed or a DST gap leaves nothing of it.
    fn opening(&self, day: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.days.contains(day.weekday()) {
            return None;
        }
        let end_day = if self.end <= self.start {
            day.succ_opt()?
        } else {
            day
        };
        let open = instant(self.tz, day.and_time(self.start))?;
        let close = instant(self.tz, end_day.and_time(self.end))?;
        (open < close).then_some((open, close))
    }
}

/// The instant of local time `local` in `tz`: the earlier of two (fall back), the first valid
/// instant after the gap for one that does not exist (spring forward).
fn instant(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.to_utc()),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.to_utc()),
        LocalResult::None => after_gap(tz, local),
    }
}

/// The first instant after the gap that `local` falls in. Gaps end on a whole minute in every
/// zone of the tz database since 1970, and last at most a day (Samoa skipped 2011-12-30), so
/// walking forward minute by minute finds the first local time that exists; its earliest
/// instant is the moment the clocks jumped.
fn after_gap(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let start = local.with_second(0)?.with_nanosecond(0)?;
    (1..=2 * 24 * 60)
        .filter_map(|minutes| start.checked_add_signed(TimeDelta::minutes(minutes)))
        .find_map(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.to_utc())
}

/// The window for a container whose `refit.window` label is `label`: `any` means none; a
/// name must be one of `windows`; no label means the default window, if there is one.
///
/// The error is a lowercase sentence naming the unknown window and the known ones.
pub fn applicable<'a>(
    windows: &'a [Window],
    label: Option<&str>,
) -> Result<Option<&'a Window>, String> {
    let Some(label) = label.map(str::trim) else {
        return Ok(windows.iter().find(|w| w.default));
    };
    if label.eq_ignore_ascii_case(ANY) {
        return Ok(None);
    }
    if let Some(window) = windows.iter().find(|w| w.name == label) {
        return Ok(Some(window));
    }
    if windows.is_empty() {
        return Err(format!(
            "unknown window \"{label}\": no windows are configured (use \"{ANY}\" for none)"
        ));
    }
    let known: Vec<_> = windows.iter().map(|w| format!("\"{}\"", w.name)).collect();
    Err(format!(
        "unknown window \"{label}\", known windows: {} (or \"{ANY}\" for none)",
        known.join(", ")
    ))
}
