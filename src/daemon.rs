//! `refit run`: the daemon. One loop runs a pass at each tick of the schedule, so two passes
//! never run at once; it logs when the next pass is due and sleeps until then. A shutdown
//! (SIGTERM, SIGINT) while it sleeps ends it at once; during a pass, the pass finishes the
//! container in hand and starts no other (see `pass::run`), then the loop ends.
//!
//! A pass that fails as a whole (the engine went away) is logged and the next tick tries
//! again: a daemon outlives an engine restart.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::engine::Engine;
use crate::pass::{self, PassOptions};
use crate::registry::Registry;
use crate::report::Report;
use crate::schedule::Schedule;

/// The longest single sleep: waking now and then re-reads the wall clock, so a tick is not
/// missed when the host suspends or its clock is stepped.
const MAX_NAP: Duration = Duration::from_secs(60);

pub struct DaemonOptions {
    pub schedule: Schedule,
    /// Run a pass right after start, before the first tick.
    pub update_on_start: bool,
    pub pass: PassOptions,
}

/// Why a pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Startup,
    Schedule,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Schedule => "schedule",
        }
    }
}

/// Runs passes until `shutdown` is cancelled, or until the schedule has no future tick.
pub async fn run(
    engine: &dyn Engine,
    registry: &dyn Registry,
    options: &DaemonOptions,
    shutdown: &CancellationToken,
) {
    info!(
        version = env!("CARGO_PKG_VERSION"),
        schedule = %options.schedule,
        "refit daemon started"
    );
    let mut last_start = None;
    if options.update_on_start {
        last_start = Some(Utc::now());
        one_pass(engine, registry, options, shutdown, Trigger::Startup).await;
    }
    while !shutdown.is_cancelled() {
        let now = Utc::now();
        let Some(next) = next_pass(&options.schedule, last_start, now) else {
            warn!(schedule = %options.schedule, "the schedule has no future tick; stopping");
            return;
        };
        info!(
            next_pass = %next.to_rfc3339_opts(SecondsFormat::Secs, true),
            in_seconds = (next - now).num_seconds().max(0),
            "next pass scheduled"
        );
        if !sleep_until(next, shutdown).await {
            break;
        }
        last_start = Some(Utc::now());
        one_pass(engine, registry, options, shutdown, Trigger::Schedule).await;
    }
    info!("refit daemon stopped");
}

async fn one_pass(
    engine: &dyn Engine,
    registry: &dyn Registry,
    options: &DaemonOptions,
    shutdown: &CancellationToken,
    trigger: Trigger,
) -> Option<Report> {
    info!(trigger = trigger.as_str(), "pass starting");
    match pass::run(engine, registry, &options.pass, shutdown).await {
        Ok(report) => Some(report),
        Err(e) => {
            error!(trigger = trigger.as_str(), error = %e, "pass failed; the next tick tries again");
            None
        }
    }
}

/// When the next pass is due. Ticks are counted from the last pass's start, so an interval
/// means "every N", not "N after each pass ends"; a tick missed while a long pass ran is not
/// made up (no burst of passes), the next one after `now` is taken instead.
pub fn next_pass(
    schedule: &Schedule,
    last_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let from = last_start.unwrap_or(now);
    match schedule.next_after(from) {
        Some(next) if next > now => Some(next),
        _ => schedule.next_after(now),
    }
}

/// Sleeps until the wall clock reaches `deadline`; false when `shutdown` came first.
async fn sleep_until(deadline: DateTime<Utc>, shutdown: &CancellationToken) -> bool {
    loop {
        let Ok(remaining) = (deadline - Utc::now()).to_std() else {
            return true;
        };
        if remaining.is_zero() {
            return true;
        }
        tokio::select! {
            () = tokio::time::sleep(remaining.min(MAX_NAP)) => {}
            () = shutdown.cancelled() => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, s).unwrap()
    }

    fn every(seconds: u64) -> Schedule {
        Schedule::Interval(Duration::from_secs(seconds))
    }

    #[test]
    fn the_first_tick_of_an_interval_is_one_interval_after_start() {
        assert_eq!(next_pass(&every(60), None, at(1, 0, 0)), Some(at(1, 1, 0)));
    }

    #[test]
    fn an_interval_counts_from_the_last_pass_start_not_its_end() {
        let next = next_pass(&every(60), Some(at(1, 0, 0)), at(1, 0, 20));
        assert_eq!(next, Some(at(1, 1, 0)));
    }

    #[test]
    fn a_tick_missed_during_a_long_pass_is_not_made_up() {
        let next = next_pass(&every(60), Some(at(1, 0, 0)), at(1, 2, 30));
        assert_eq!(next, Some(at(1, 3, 30)));
    }

    #[test]
    fn a_cron_tick_is_the_next_one_after_now() {
        let schedule = Schedule::parse("0 0 4 * * *", chrono_tz::UTC).expect("cron");
        let next = next_pass(&schedule, Some(at(4, 0, 0)), at(4, 0, 5));
        assert_eq!(
            next,
            Some(Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_while_sleeping_ends_the_sleep_at_once() {
        let shutdown = CancellationToken::new();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        });
        let far = Utc::now() + chrono::Duration::hours(5);
        assert!(!sleep_until(far, &shutdown).await);
    }

    #[tokio::test]
    async fn a_deadline_in_the_past_does_not_sleep() {
        let shutdown = CancellationToken::new();
        assert!(sleep_until(Utc::now() - chrono::Duration::seconds(1), &shutdown).await);
    }
}
