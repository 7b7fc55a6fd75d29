//! `[[window]]` entries to `Window`s and back: the rules that need more than one value (a
//! unique name, at most one default, a zone that defaults to `schedule.timezone`).

use chrono::{Weekday, WeekdaySet};
use chrono_tz::Tz;
use toml::Spanned;

use super::Context;
use crate::config::error::ConfigError;
use crate::config::raw::RawWindow;
use crate::config::time::{DayValue, TimeValue, TimezoneValue};
use crate::window::{self, Window};

/// Windows have no environment form, so every span here is in the file.
pub(super) fn windows(
    raw: Vec<RawWindow>,
    default_tz: Tz,
    ctx: &Context,
) -> Result<Vec<Window>, ConfigError> {
    let mut windows: Vec<Window> = Vec::with_capacity(raw.len());
    for entry in raw {
        let window = convert(entry, default_tz, &windows, ctx)?;
        windows.push(window);
    }
    Ok(windows)
}

fn convert(
    raw: RawWindow,
    default_tz: Tz,
    before: &[Window],
    ctx: &Context,
) -> Result<Window, ConfigError> {
    let span = raw.name.span();
    let name = raw.name.into_inner().trim().to_string();
    let name_error = |message: String| Err(ctx.error("window.name", span.clone(), message));
    if name.is_empty() {
        return name_error("a window needs a name (refit.window labels refer to it)".into());
    }
    // The label value `any` already means "no window", so a window by that name is unreachable.
    if name.eq_ignore_ascii_case(window::ANY) {
        return name_error(format!(
            "window name `{name}` is reserved: refit.window={} means no window",
            window::ANY
        ));
    }
    if before.iter().any(|w| w.name == name) {
        return name_error(format!("duplicate window name `{name}`"));
    }
    let days = match raw.days {
        None => WeekdaySet::ALL,
        Some(days) if days.get_ref().is_empty() => {
            let message = format!(
                "window `{name}` has no days and would never open; leave days out for every day"
            );
            return Err(ctx.error("window.days", days.span(), message));
        }
        Some(days) => days.into_inner().into_iter().map(|d| d.0).collect(),
    };
    let default = match raw.default {
        Some(flag) if *flag.get_ref() => {
            if let Some(other) = before.iter().find(|w| w.default) {
                let message = format!(
                    "window `{name}` is the default, but so is window `{}`: at most one window \
                     may be the default",
                    other.name
                );
                return Err(ctx.error("window.default", flag.span(), message));
            }
            true
        }
        _ => false,
    };
    Ok(Window {
        name,
        days,
        start: raw.start.0,
        end: raw.end.0,
        tz: raw.timezone.map_or(default_tz, |tz| tz.0),
        default,
    })
}

/// Every key set, days listed from Monday, the zone always written out.
pub(super) fn raw_window(window: &Window) -> RawWindow {
    let days = window.days.iter(Weekday::Mon).map(DayValue).collect();
    RawWindow {
        name: Spanned::new(0..0, window.name.clone()),
        days: Some(Spanned::new(0..0, days)),
        start: TimeValue(window.start),
        end: TimeValue(window.end),
        timezone: Some(TimezoneValue(window.tz)),
        default: Some(Spanned::new(0..0, window.default)),
    }
}
