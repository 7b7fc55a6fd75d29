//! The health gate: after start, a successor must stay running for `health.wait` and, when
//! it has a healthcheck, turn `healthy` within `health.timeout`. `judge` is the pure rule on
//! one inspect; `wait` polls the engine with it.

use std::time::Duration;

use bollard::models::{ContainerInspectResponse, HealthStatusEnum};
use tracing::info;

use crate::engine::Engine;

/// How often the successor is inspected while the gate waits.
const POLL: Duration = Duration::from_millis(250);

/// What a successor must show before it is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    /// It must be running this long after its start.
    pub wait: Duration,
    /// With a healthcheck, it must be `healthy` within this; `None`: health is not awaited
    /// (a namespace sharer, recreated on its own image, is only checked to be running).
    pub health_timeout: Option<Duration>,
    /// Restore the old container when the gate refuses the successor.
    pub rollback: bool,
}

/// What one look at the successor says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Accept,
    Wait,
    Refuse(String),
}

/// The gate's rule on one inspect of the successor, `elapsed` after its start.
pub(super) fn judge(inspect: &ContainerInspectResponse, elapsed: Duration, gate: &Gate) -> Verdict {
    let state = inspect.state.clone().unwrap_or_default();
    let code = state.exit_code.unwrap_or(-1);
    let restarts = inspect.restart_count.unwrap_or(0);
    // A restart policy brings a crashing container back, so "running" alone can lie.
    if restarts > 0 {
        return Verdict::Refuse(format!(
            "the new container exited and was restarted {restarts} time(s) (exit code {code})"
        ));
    }
    if state.running != Some(true) || state.restarting == Some(true) {
        return Verdict::Refuse(format!("the new container exited (exit code {code})"));
    }
    let health = state.health.unwrap_or_default();
    let status = health.status.unwrap_or(HealthStatusEnum::EMPTY);
    let has_check = !matches!(status, HealthStatusEnum::EMPTY | HealthStatusEnum::NONE);
    if status == HealthStatusEnum::UNHEALTHY {
        let output = health
            .log
            .unwrap_or_default()
            .last()
            .and_then(|r| r.output.clone())
            .unwrap_or_default();
        let output: String = output.trim().chars().take(200).collect();
        return Verdict::Refuse(if output.is_empty() {
            "the new container is unhealthy".to_string()
        } else {
            format!("the new container is unhealthy: {output}")
        });
    }
    let healthy = !has_check || status == HealthStatusEnum::HEALTHY;
    if let Some(timeout) = gate.health_timeout
        && !healthy
        && elapsed >= timeout
    {
        return Verdict::Refuse(format!(
            "the new container was not healthy within {} (health {status})",
            humantime::format_duration(timeout)
        ));
    }
    if elapsed >= gate.wait && (healthy || gate.health_timeout.is_none()) {
        Verdict::Accept
    } else {
        Verdict::Wait
    }
}

/// Poll the successor until the gate accepts or refuses it; `Err` holds the reason.
pub(super) async fn wait(engine: &dyn Engine, id: &str, gate: &Gate) -> Result<(), String> {
    let started = tokio::time::Instant::now();
    loop {
        let inspect = engine
            .inspect_container(id)
            .await
            .map_err(|e| format!("cannot inspect the new container: {e}"))?;
        match judge(&inspect, started.elapsed(), gate) {
            Verdict::Accept => {
                info!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "new container accepted"
                );
                return Ok(());
            }
            Verdict::Refuse(why) => return Err(why),
            Verdict::Wait => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerState, Health, HealthcheckResult};

    fn gate() -> Gate {
        Gate {
            wait: Duration::from_secs(10),
            health_timeout: Some(Duration::from_secs(60)),
            rollback: true,
        }
    }

    fn inspect(running: bool, health: Option<HealthStatusEnum>) -> ContainerInspectResponse {
        ContainerInspectResponse {
            state: Some(ContainerState {
                running: Some(running),
                exit_code: Some(if running { 0 } else { 3 }),
                health: health.map(|status| Health {
                    status: Some(status),
                    log: Some(vec![HealthcheckResult {
                        output: Some("probe said no\n".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_count: Some(0),
            ..Default::default()
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn without_a_healthcheck_it_must_run_for_the_whole_wait() {
        assert_eq!(judge(&inspect(true, None), secs(3), &gate()), Verdict::Wait);
        assert_eq!(
            judge(&inspect(true, None), secs(10), &gate()),
            Verdict::Accept
        );
        assert_eq!(
            judge(&inspect(false, None), secs(1), &gate()),
            Verdict::Refuse("the new container exited (exit code 3)".into())
        );
    }

    #[test]
    fn a_restart_by_policy_is_a_refusal_even_while_running() {
        let mut again = inspect(true, None);
        again.restart_count = Some(2);
        assert!(
            matches!(judge(&again, secs(1), &gate()), Verdict::Refuse(why) if why.contains("restarted 2 time(s)"))
        );
    }

    #[test]
    fn with_a_healthcheck_it_must_turn_healthy_within_the_timeout() {
        let starting = inspect(true, Some(HealthStatusEnum::STARTING));
        let healthy = inspect(true, Some(HealthStatusEnum::HEALTHY));
        assert_eq!(
            judge(&healthy, secs(2), &gate()),
            Verdict::Wait,
            "wait first"
        );
        assert_eq!(judge(&healthy, secs(10), &gate()), Verdict::Accept);
        assert_eq!(judge(&starting, secs(30), &gate()), Verdict::Wait);
        assert_eq!(
            judge(&starting, secs(60), &gate()),
            Verdict::Refuse("the new container was not healthy within 1m (health starting)".into())
        );
    }

    #[test]
    fn unhealthy_is_refused_at_once_with_the_probe_output() {
        let unhealthy = inspect(true, Some(HealthStatusEnum::UNHEALTHY));
        assert_eq!(
            judge(&unhealthy, secs(1), &gate()),
            Verdict::Refuse("the new container is unhealthy: probe said no".into())
        );
    }

    #[test]
    fn without_a_health_timeout_a_healthcheck_is_not_awaited() {
        let relaxed = Gate {
            wait: Duration::ZERO,
            health_timeout: None,
            rollback: true,
        };
        let starting = inspect(true, Some(HealthStatusEnum::STARTING));
        assert_eq!(judge(&starting, Duration::ZERO, &relaxed), Verdict::Accept);
    }
}
