//! Notifications: after an update pass, one message per pass that has something to say
//! (updated, failed, rolled back, available), never one per container, to every configured
//! URL. Notifiers read the `Report`, never log lines.
//!
//! - `url`: the URL forms; each notifier file (`generic`, `slack`, `discord`, `ntfy`,
//!   `gotify`, `smtp`) parses its own and sends.
//! - `message`: the title, text and filtered report every notifier sends a form of.
//!
//! An available update is announced once per (container, digest): the pairs announced are
//! kept in the state database (`ledger`), so a restart does not repeat them. A notifier that
//! fails is retried with a bounded backoff and logged; it never fails the pass.

mod discord;
mod generic;
mod gotify;
pub mod message;
mod ntfy;
mod slack;
mod smtp;
pub mod url;

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use tracing::{debug, info, warn};

use crate::ledger;
use crate::report::{OutcomeKind, Report};
use crate::state::Store;
pub use message::Message;
pub use url::NotifyUrl;
use url::Target;

/// Each send attempt's limit, so a hanging endpoint cannot hold the daemon for long.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("smtp: {message}")]
    Smtp { message: String, transient: bool },
    #[error("cannot build the message: {0}")]
    Message(String),
}

impl Error {
    /// Whether another attempt may succeed: no answer, a server error, a rate limit.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Status(status) => *status >= 500 || *status == 429,
            Error::Smtp { transient, .. } => *transient,
            Error::Message(_) => false,
        }
    }
}

/// What notifiers share: one HTTP client.
pub struct Context {
    http: reqwest::Client,
}

/// One notification target.
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, context: &Context, message: &Message) -> Result<(), Error>;
}

#[async_trait]
impl Notifier for Target {
    async fn send(&self, context: &Context, message: &Message) -> Result<(), Error> {
        match self {
            Target::Generic(t) => t.send(context, message).await,
            Target::Slack(t) => t.send(context, message).await,
            Target::Discord(t) => t.send(context, message).await,
            Target::Ntfy(t) => t.send(context, message).await,
            Target::Gotify(t) => t.send(context, message).await,
            Target::Smtp(t) => t.send(context, message).await,
        }
    }
}

/// How a failed send is retried: `attempts` in all, the waits doubling from `first_wait`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub attempts: u32,
    pub first_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 3,
            first_wait: Duration::from_secs(1),
        }
    }
}

/// Every configured target, ready to send.
pub struct Notify {
    targets: Vec<(String, Target)>,
    context: Context,
    backoff: Backoff,
}

impl Notify {
    pub fn new(urls: &[NotifyUrl], backoff: Backoff) -> Notify {
        let targets = urls
            .iter()
            // Validated at load, so a failure here would be a bug; skip rather than stop.
            .filter_map(|u| u.target().ok().map(|t| (u.redacted().to_string(), t)))
            .collect();
        Notify {
            targets,
            context: Context {
                http: http_client(),
            },
            backoff,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Tells every target about `report`'s update pass, if it has something to say. Returns
    /// the message sent (for tests and logs), `None` when there was nothing new.
    pub async fn pass_finished(&self, report: &Report, store: &Store) -> Option<Message> {
        if self.targets.is_empty() {
            return None;
        }
        let (filtered, fresh) = choose(report, store);
        let Some(message) = message::compose(filtered) else {
            debug!("nothing to notify");
            return None;
        };
        let sends = self
            .targets
            .iter()
            .map(|(name, target)| self.deliver(name, target, &message));
        let delivered = futures_util::future::join_all(sends).await;
        if delivered.iter().any(|ok| *ok) && !fresh.is_empty() {
            let fresh: Vec<_> = fresh.into_iter().collect();
            if let Err(e) = ledger::mark_announced(store, &fresh) {
                warn!(error = %e, "cannot record announced updates; they may be announced again");
            }
        }
        Some(message)
    }

    async fn deliver(&self, name: &str, target: &Target, message: &Message) -> bool {
        let mut wait = self.backoff.first_wait;
        for attempt in 1..=self.backoff.attempts.max(1) {
            let result = tokio::time::timeout(SEND_TIMEOUT, target.send(&self.context, message))
                .await
                .unwrap_or_else(|_| Err(Error::Unreachable("timed out".into())));
            match result {
                Ok(()) => {
                    info!(target = name, attempt, "notification sent");
                    return true;
                }
                Err(e) if e.is_retryable() && attempt < self.backoff.attempts => {
                    warn!(target = name, attempt, error = %e, "notification failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => {
                    warn!(target = name, attempt, error = %e, "notification failed; giving up");
                    return false;
                }
            }
        }
        false
    }
}

/// The report restricted to what is news, and the available (container, digest) pairs among
/// it not announced before.
fn choose(report: &Report, store: &Store) -> (Report, BTreeSet<(String, String)>) {
    let available: Vec<(String, String)> = report
        .containers
        .iter()
        .filter(|c| c.outcome == Some(OutcomeKind::Available))
        .filter_map(|c| Some((c.name.clone(), c.available_digest.as_ref()?.to_string())))
        .collect();
    let fresh = match ledger::unannounced(store, &available) {
        Ok(fresh) => fresh,
        Err(e) => {
            // Announcing twice is better than never: without the database, say it each pass.
            warn!(error = %e, "cannot read announced updates; announcing all");
            available.iter().cloned().collect()
        }
    };
    let is_news = |c: &crate::report::ContainerReport| match c.outcome {
        Some(OutcomeKind::Available) => c
            .available_digest
            .as_ref()
            .is_some_and(|d| fresh.contains(&(c.name.clone(), d.to_string()))),
        _ => ledger::is_notable(c),
    };
    let filtered = Report {
        pass: report.pass.clone(),
        containers: report
            .containers
            .iter()
            .filter(|c| is_news(c))
            .cloned()
            .collect(),
    };
    (filtered, fresh)
}

fn http_client() -> reqwest::Client {
    let builder = || {
        reqwest::Client::builder()
            .user_agent(concat!("refit/", env!("CARGO_PKG_VERSION")))
            .timeout(SEND_TIMEOUT)
    };
    builder().build().unwrap_or_else(|e| {
        // No CA bundle on the system: plain-HTTP targets still work.
        warn!(error = %e, "no TLS roots for notifications; only http:// targets will work");
        // A client without roots needs nothing from the system; `Client::default` is the
        // same fallback reqwest itself would take.
        builder()
            .tls_certs_only(Vec::new())
            .build()
            .unwrap_or_default()
    })
}

/// POSTs `body` (JSON or text) and checks for a 2xx answer. Errors never carry the URL, which
/// holds the target's token.
pub(crate) async fn post(request: reqwest::RequestBuilder) -> Result<(), Error> {
    let response = request
        .send()
        .await
        .map_err(|e| Error::Unreachable(error_chain(&e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Error::Status(status.as_u16()))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
