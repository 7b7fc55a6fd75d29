//! `refit run`: the daemon. One runner task runs every pass, so two passes never run at
//! once. Passes are triggered by the schedule's ticks, by `update_on_start`, and by requests
//! over a channel (`POST /v1/update`); a request carries a oneshot sender for the report.
//!
//! A request that arrives while a pass runs *joins* it: it is answered with that pass's report
//! (no second pass starts). One that arrives while the runner is idle, or while it is sending
//! the notifications of a finished pass, starts the next pass. An API pass does not move the
//! schedule: ticks stay counted from the last scheduled pass.
//!
//! A shutdown (SIGTERM, SIGINT) while idle ends the runner at once; during a pass, the pass
//! finishes the container in hand and starts no other (see `pass::run`), the waiting requests
//! get its report, then the runner ends. A pass that fails as a whole (the engine went away)
//! is logged and the next tick tries again: a daemon outlives an engine restart.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::engine::Engine;
use crate::pass::{self, PassOptions};
use crate::publish::Publisher;
use crate::registry::Registry;
use crate::report::{OutcomeKind, Report};
use crate::schedule::Schedule;

/// The longest single sleep: waking now and then re-reads the wall clock, so a tick is not
/// missed when the host suspends or its clock is stepped.
const MAX_NAP: Duration = Duration::from_secs(60);

/// Requests waiting for the runner; more wait in the senders' `send`.
const QUEUE: usize = 16;

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
    Api,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
        }
    }
}

/// A pass's report, or why the pass failed as a whole.
pub type PassResult = Result<Arc<Report>, String>;

/// A request for a pass: the runner answers it with the report of the pass it joins or starts.
pub struct PassRequest {
    reply: oneshot::Sender<PassResult>,
}

/// The sending side, for the API.
#[derive(Clone)]
pub struct Triggers(mpsc::Sender<PassRequest>);

#[derive(Debug, thiserror::Error)]
#[error("refit is shutting down")]
pub struct ShuttingDown;

impl Triggers {
    /// Asks for a pass and waits for its report.
    pub async fn request(&self) -> Result<PassResult, ShuttingDown> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(PassRequest { reply })
            .await
            .map_err(|_| ShuttingDown)?;
        answer.await.map_err(|_| ShuttingDown)
    }
}

/// A channel of pass requests: the senders for the API, the receiver for `run`.
pub fn channel() -> (Triggers, mpsc::Receiver<PassRequest>) {
    let (sender, receiver) = mpsc::channel(QUEUE);
    (Triggers(sender), receiver)
}

/// What the runner works with.
pub struct Runner<'a> {
    pub engine: &'a dyn Engine,
    pub registry: &'a dyn Registry,
    pub options: &'a DaemonOptions,
    pub publisher: &'a Publisher,
    pub shutdown: &'a CancellationToken,
}

/// Runs passes until `shutdown` is cancelled, or until the schedule has no future tick and no
/// request can come any more (all `Triggers` dropped).
pub async fn run(runner: &Runner<'_>, mut requests: mpsc::Receiver<PassRequest>) {
    let (options, shutdown) = (runner.options, runner.shutdown);
    info!(
        version = env!("CARGO_PKG_VERSION"),
        schedule = %options.schedule,
        "refit daemon started"
    );
    let mut open = true;
    let mut last_start = None;
    if options.update_on_start {
        last_start = Some(Utc::now());
        runner
            .pass(Trigger::Startup, Vec::new(), &mut requests, &mut open)
            .await;
    }
    while !shutdown.is_cancelled() {
        let now = Utc::now();
        let next = next_pass(&options.schedule, last_start, now);
        runner.publisher.set_next_pass(next);
        match next {
            Some(next) => info!(
                next_pass = %next.to_rfc3339_opts(SecondsFormat::Secs, true),
                in_seconds = (next - now).num_seconds().max(0),
                "next pass scheduled"
            ),
            None if !open => {
                warn!(schedule = %options.schedule, "the schedule has no future tick; stopping");
                break;
            }
            None => warn!(schedule = %options.schedule, "the schedule has no future tick"),
        }
        let tick = async {
            match next {
                Some(next) => sleep_until(next, shutdown).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            request = requests.recv(), if open => match request {
                Some(request) => {
                    runner
                        .pass(Trigger::Api, vec![request.reply], &mut requests, &mut open)
                        .await;
                }
                None => open = false,
            },
            woke = tick => {
                if !woke {
                    break;
                }
                last_start = Some(Utc::now());
                runner
                    .pass(Trigger::Schedule, Vec::new(), &mut requests, &mut open)
                    .await;
            }
        }
    }
    info!("refit daemon stopped");
}

impl Runner<'_> {
    /// One pass; requests arriving meanwhile join it. Everyone waiting is answered before the
    /// notifications go out, so a slow notifier does not hold up `POST /v1/update`.
    async fn pass(
        &self,
        trigger: Trigger,
        mut waiting: Vec<oneshot::Sender<PassResult>>,
        requests: &mut mpsc::Receiver<PassRequest>,
        open: &mut bool,
    ) {
        self.publisher.pass_started();
        let run = self.one_pass(trigger);
        tokio::pin!(run);
        let result = loop {
            tokio::select! {
                result = &mut run => break result,
                request = requests.recv(), if *open => match request {
                    Some(request) => waiting.push(request.reply),
                    None => *open = false,
                },
            }
        };
        self.publisher
            .record(trigger.as_str(), &result, self.registry);
        for reply in waiting {
            // A requester that gave up (its connection closed) is no error.
            let _ = reply.send(result.clone());
        }
        if let Ok(report) = &result {
            self.publisher.announce(report).await;
        }
    }

    async fn one_pass(&self, trigger: Trigger) -> PassResult {
        info!(trigger = trigger.as_str(), "pass starting");
        let options = &self.options.pass;
        match pass::run(self.engine, self.registry, options, self.shutdown).await {
            Ok(report) => {
                if handed_over(&report, options) {
                    // The successor runs beside this process and waits for it to exit.
                    info!("refit updated its own container: stopping, the successor takes over");
                    self.shutdown.cancel();
                }
                Ok(Arc::new(report))
            }
            Err(e) => {
                error!(trigger = trigger.as_str(), error = %e, "pass failed; the next tick tries again");
                Err(e.to_string())
            }
        }
    }
}

/// Whether the pass updated the container this refit runs in.
fn handed_over(report: &Report, options: &PassOptions) -> bool {
    let Some(own) = options.settings.own_container.as_deref() else {
        return false;
    };
    report
        .containers
        .iter()
        .any(|c| c.id == own && c.outcome == Some(OutcomeKind::Updated))
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
