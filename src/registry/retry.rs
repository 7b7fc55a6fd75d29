//! Politeness toward a registry that says "not now" (429, 503): `Retry-After` parsing, the
//! retry policy and the per-registry wait budget. Pure; the waiting itself is in `transport.rs`.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};

/// How refit retries a request a registry answered with 429 or 503. It never falls back to
/// another method (a GET counts as a pull on Docker Hub).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries of one request after its first attempt.
    pub max_retries: u32,
    /// The longest single wait. A registry asking for more gets `Error::RateLimited` at once:
    /// asking again sooner than it said would be impolite and probably refused.
    pub max_wait: Duration,
    /// Total waiting allowed per registry over the `OciRegistry`'s lifetime (one pass).
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
            budget: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt + 1`, or `None` to give up. `retry_after` is the
    /// registry's `Retry-After`; without one, waits grow 1 s, 2 s, 4 s, ...
    pub(crate) fn wait_before_retry(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        budget: &WaitBudget,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| default_backoff(attempt));
        if wait > self.max_wait {
            return None;
        }
        budget.try_spend(wait).then_some(wait)
    }
}

fn default_backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(6))
}

/// What is left of one registry's wait budget.
#[derive(Debug)]
pub(crate) struct WaitBudget(Mutex<Duration>);

impl WaitBudget {
    pub fn new(budget: Duration) -> WaitBudget {
        WaitBudget(Mutex::new(budget))
    }

    /// Takes `wait` from the budget if it is all there.
    pub fn try_spend(&self, wait: Duration) -> bool {
        // A poisoned lock only means a panic elsewhere; the duration inside is still valid.
        let mut left = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match left.checked_sub(wait) {
            Some(rest) => {
                *left = rest;
                true
            }
            None => false,
        }
    }
}

/// Parses `Retry-After`: delay seconds, or an HTTP-date (IMF-fixdate, or the obsolete RFC 850
/// and asctime forms), turned into a delay from `now`. A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = parse_http_date(value)?;
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc2822(value) {
        return Some(date.with_timezone(&Utc));
    }
    // RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("1994-11-06T08:49:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let secs = |s| parse_retry_after(s, now()).map(|d| d.as_secs());
        assert_eq!(secs("120"), Some(120));
        assert_eq!(secs(" 0 "), Some(0));
        assert_eq!(secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(37));
        assert_eq!(secs("Sunday, 06-Nov-94 08:49:37 GMT"), Some(37));
        assert_eq!(secs("Sun Nov  6 08:49:37 1994"), Some(37));
        assert_eq!(secs("Sun, 06 Nov 1994 08:00:00 GMT"), Some(0), "past");
        assert_eq!(secs("soon"), None);
        assert_eq!(secs("-5"), None);
    }

    #[test]
    fn policy_caps_waits_retries_and_budget() {
        let policy = RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
            budget: Duration::from_secs(100),
        };
        let budget = WaitBudget::new(policy.budget);
        let s = Duration::from_secs;
        assert_eq!(
            policy.wait_before_retry(0, Some(s(30)), &budget),
            Some(s(30))
        );
        assert_eq!(policy.wait_before_retry(0, Some(s(61)), &budget), None);
        assert_eq!(policy.wait_before_retry(1, None, &budget), Some(s(2)));
        assert_eq!(policy.wait_before_retry(3, Some(s(1)), &budget), None);
        // 100 - 30 - 2 = 68 left: 60 fits, then 10 does not.
        assert_eq!(
            policy.wait_before_retry(0, Some(s(60)), &budget),
            Some(s(60))
        );
        assert_eq!(policy.wait_before_retry(0, Some(s(10)), &budget), None);
        assert_eq!(policy.wait_before_retry(0, Some(s(8)), &budget), Some(s(8)));
    }
}
