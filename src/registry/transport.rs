//! Sending one registry request the polite way: the `/v2/` ping (once per registry), Basic or
//! Bearer authorization with cached tokens, one re-authentication after a 401, and retries
//! after `Retry-After` on 429/503 within the registry's budget. Every request sent is counted.
//!
//! Secrets travel only in `Authorization` headers built here; nothing here logs them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::Utc;
use reqwest::header::{ACCEPT, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio::time::Instant;
use tracing::debug;

use super::answer::RequestResult;
use super::auth::{self, CachedToken, Challenge, TokenCache};
use super::endpoint::{error_chain, ping_url};
use super::retry::{RetryPolicy, WaitBudget, parse_retry_after};
use super::{Credentials, Error};
use crate::secret::Secret;

/// What a request was for, as counted by `OciRegistry::request_counts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// `GET /v2/`, once per registry per `OciRegistry`.
    Ping,
    /// A token request to the registry's Bearer realm.
    Token,
    ManifestHead,
    ManifestGet,
    /// One page of `GET /v2/<name>/tags/list`.
    TagList,
    /// Anything else (none yet).
    Other,
}

impl RequestKind {
    /// A metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Ping => "ping",
            RequestKind::Token => "token",
            RequestKind::ManifestHead => "manifest_head",
            RequestKind::ManifestGet => "manifest_get",
            RequestKind::TagList => "tag_list",
            RequestKind::Other => "other",
        }
    }
}

/// Requests sent to one registry, by kind. Every attempt counts: a retry after a 429 is a
/// second request, and so is one that failed to connect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub ping: u64,
    pub token: u64,
    pub manifest_head: u64,
    pub manifest_get: u64,
    pub tag_list: u64,
    pub other: u64,
}

impl RequestCounts {
    pub fn total(&self) -> u64 {
        self.ping + self.token + self.manifest_head + self.manifest_get + self.tag_list + self.other
    }

    pub fn of(&self, kind: RequestKind) -> u64 {
        match kind {
            RequestKind::Ping => self.ping,
            RequestKind::Token => self.token,
            RequestKind::ManifestHead => self.manifest_head,
            RequestKind::ManifestGet => self.manifest_get,
            RequestKind::TagList => self.tag_list,
            RequestKind::Other => self.other,
        }
    }

    fn add(&mut self, kind: RequestKind) {
        let counter = match kind {
            RequestKind::Ping => &mut self.ping,
            RequestKind::Token => &mut self.token,
            RequestKind::ManifestHead => &mut self.manifest_head,
            RequestKind::ManifestGet => &mut self.manifest_get,
            RequestKind::TagList => &mut self.tag_list,
            RequestKind::Other => &mut self.other,
        };
        *counter += 1;
    }
}

/// One registry as refit talks to it: where, with which client, and what it has learnt.
pub(super) struct Host {
    pub registry: String,
    pub base: String,
    /// Plain HTTP (loopback or `insecure`): credentials may go to a plain-HTTP token realm.
    pub plain_http: bool,
    pub client: reqwest::Client,
    /// The `/v2/` answer; the async lock makes concurrent first requests share one ping.
    pub challenge: tokio::sync::Mutex<Option<Challenge>>,
    pub credentials: tokio::sync::OnceCell<Option<Credentials>>,
    pub budget: WaitBudget,
}

/// A request to send on behalf of a repository.
pub(super) struct Request<'a> {
    pub kind: RequestKind,
    pub method: Method,
    pub url: String,
    pub accept: String,
    pub repository: &'a str,
}

/// The authorization one attempt carried.
enum Authorization {
    None,
    Basic,
    /// `fresh`: fetched for this attempt, so a 401 means the token does not grant access.
    Bearer {
        token: Secret,
        fresh: bool,
    },
}

/// State shared by all registries: tokens, counters, the retry policy.
pub(super) struct Transport {
    pub tokens: TokenCache,
    pub counts: Mutex<BTreeMap<String, RequestCounts>>,
    /// How the requests ended, per registry (the metrics' `result` label).
    pub results: Mutex<BTreeMap<(String, RequestResult), u64>>,
    pub retry: RetryPolicy,
}

impl Transport {
    pub fn new(retry: RetryPolicy) -> Transport {
        Transport {
            tokens: TokenCache::default(),
            counts: Mutex::new(BTreeMap::new()),
            results: Mutex::new(BTreeMap::new()),
            retry,
        }
    }

    /// Sends `request` authorized as `host` asks. A 401 is answered once with fresh
    /// authorization when that could change the outcome (a cached token, or an open `/v2/`
    /// with a protected repository); any other status goes back to the caller.
    pub async fn send(
        &self,
        host: &Host,
        credentials: Option<&Credentials>,
        request: &Request<'_>,
    ) -> Result<Response, Error> {
        let scope = auth::pull_scope(request.repository);
        let mut challenge = self.challenge(host).await?;
        let mut stale: Option<Secret> = None;
        let mut retried = false;
        loop {
            let authorization = self
                .authorize(
                    host,
                    credentials,
                    &challenge,
                    &scope,
                    stale.as_ref(),
                    request,
                )
                .await?;
            let response = self
                .send_polite(host, request.kind, || {
                    let builder = host
                        .client
                        .request(request.method.clone(), &request.url)
                        .header(ACCEPT, &request.accept);
                    apply(builder, &authorization, credentials)
                })
                .await?;
            debug!(
                registry = %host.registry,
                repository = request.repository,
                kind = request.kind.as_str(),
                status = response.status().as_u16(),
                "registry answered"
            );
            if response.status() != StatusCode::UNAUTHORIZED || retried {
                return Ok(response);
            }
            let offered = offered_challenge(&response);
            let Some((next, discard)) =
                reauthorization(&authorization, offered, credentials.is_some())
            else {
                return Ok(response);
            };
            if matches!(authorization, Authorization::None) {
                // `/v2/` said "open" but this repository is not: remember what it asks for.
                *host.challenge.lock().await = Some(next.clone());
            }
            challenge = next;
            stale = discard;
            debug!(registry = %host.registry, repository = request.repository, "authorizing again after 401");
            retried = true;
        }
    }

    /// The registry's `/v2/` answer, asked once per `Host`.
    async fn challenge(&self, host: &Host) -> Result<Challenge, Error> {
        let mut known = host.challenge.lock().await;
        if let Some(challenge) = known.as_ref() {
            return Ok(challenge.clone());
        }
        let url = ping_url(&host.base);
        let response = self
            .send_polite(host, RequestKind::Ping, || host.client.get(&url))
            .await?;
        let status = response.status();
        let challenge = if status.is_success() {
            Challenge::Anonymous
        } else if status == StatusCode::UNAUTHORIZED {
            // A 401 without a challenge refit understands: try Basic (credentials, if any).
            offered_challenge(&response).unwrap_or(Challenge::Basic)
        } else {
            return Err(Error::Status {
                registry: host.registry.clone(),
                status: status.as_u16(),
                url,
            });
        };
        debug!(registry = %host.registry, status = status.as_u16(), auth = challenge_name(&challenge), "registry pinged");
        *known = Some(challenge.clone());
        Ok(challenge)
    }

    async fn authorize(
        &self,
        host: &Host,
        credentials: Option<&Credentials>,
        challenge: &Challenge,
        scope: &str,
        stale: Option<&Secret>,
        request: &Request<'_>,
    ) -> Result<Authorization, Error> {
        match challenge {
            Challenge::Anonymous => Ok(Authorization::None),
            Challenge::Basic if credentials.is_some() => Ok(Authorization::Basic),
            Challenge::Basic => Ok(Authorization::None),
            Challenge::Bearer { realm, service } => {
                let token = TokenRequest {
                    realm,
                    service: service.as_deref(),
                    scope,
                    repository: request.repository,
                };
                self.bearer_token(host, credentials, &token, stale).await
            }
        }
    }

    /// A token for `(registry, scope)`: the cached one while valid and not `stale`, else a
    /// new one from the realm (the slot stays locked meanwhile, so one request serves all).
    async fn bearer_token(
        &self,
        host: &Host,
        credentials: Option<&Credentials>,
        token: &TokenRequest<'_>,
        stale: Option<&Secret>,
    ) -> Result<Authorization, Error> {
        let slot = self.tokens.slot(&host.registry, token.scope);
        let mut cached = slot.lock().await;
        if let Some(current) = cached.as_ref() {
            let is_stale = stale.is_some_and(|s| s == &current.token);
            if !is_stale && current.valid_until > Instant::now() {
                // A token another task fetched after ours went stale counts as fresh.
                let fresh = stale.is_some();
                return Ok(Authorization::Bearer {
                    token: current.token.clone(),
                    fresh,
                });
            }
        }
        *cached = None;
        let (secret, reuse) = self.fetch_token(host, credentials, token).await?;
        *cached = Some(CachedToken {
            token: secret.clone(),
            valid_until: Instant::now() + reuse,
        });
        Ok(Authorization::Bearer {
            token: secret,
            fresh: true,
        })
    }

    async fn fetch_token(
        &self,
        host: &Host,
        credentials: Option<&Credentials>,
        token: &TokenRequest<'_>,
    ) -> Result<(Secret, std::time::Duration), Error> {
        let protocol = |message: String| Error::Protocol {
            registry: host.registry.clone(),
            message,
        };
        let mut url = reqwest::Url::parse(token.realm)
            .map_err(|e| protocol(format!("token realm {:?} is not a URL: {e}", token.realm)))?;
        if url.scheme() != "https" && credentials.is_some() && !host.plain_http {
            return Err(protocol(format!(
                "refusing to send credentials to the plain-HTTP token realm {}",
                token.realm
            )));
        }
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("scope", token.scope);
            if let Some(service) = token.service {
                query.append_pair("service", service);
            }
        }
        let response = self
            .send_polite(host, RequestKind::Token, || {
                let builder = host.client.get(url.clone());
                match credentials {
                    Some(c) => builder.basic_auth(&c.username, Some(c.password.expose())),
                    None => builder,
                }
            })
            .await?;
        let status = response.status();
        debug!(registry = %host.registry, repository = token.repository, status = status.as_u16(), "token endpoint answered");
        match status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(Error::Unauthorized {
                    registry: host.registry.clone(),
                    repository: token.repository.to_string(),
                });
            }
            other => {
                return Err(Error::Status {
                    registry: host.registry.clone(),
                    status: other.as_u16(),
                    url: token.realm.to_string(),
                });
            }
        }
        let body = read_body(host, response, 1 << 20).await?;
        auth::parse_token_answer(&body).map_err(protocol)
    }

    /// Sends what `make` builds; a 429 or 503 is retried after its `Retry-After` while the
    /// policy and the registry's budget allow, never with another method.
    async fn send_polite(
        &self,
        host: &Host,
        kind: RequestKind,
        make: impl Fn() -> RequestBuilder,
    ) -> Result<Response, Error> {
        let mut attempt = 0;
        loop {
            self.count(&host.registry, kind);
            let response = match make().send().await {
                Ok(response) => response,
                Err(e) => {
                    self.count_result(&host.registry, RequestResult::Unreachable);
                    return Err(unreachable_error(&host.registry, e));
                }
            };
            let status = response.status();
            self.count_result(&host.registry, RequestResult::of_status(status));
            if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE
            {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, Utc::now()));
            let Some(wait) = self
                .retry
                .wait_before_retry(attempt, retry_after, &host.budget)
            else {
                debug!(registry = %host.registry, kind = kind.as_str(), status = status.as_u16(), "registry asks to wait beyond the retry budget");
                return Err(Error::RateLimited {
                    registry: host.registry.clone(),
                    status: status.as_u16(),
                });
            };
            debug!(registry = %host.registry, kind = kind.as_str(), status = status.as_u16(), wait_ms = wait.as_millis() as u64, "registry asks to wait; retrying");
            drop(response);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn count(&self, registry: &str, kind: RequestKind) {
        // A poisoned lock only means a panic elsewhere; the counters are still sound.
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.entry(registry.to_string()).or_default().add(kind);
    }

    fn count_result(&self, registry: &str, result: RequestResult) {
        // As above: a poisoned lock leaves the counters sound.
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        *results.entry((registry.to_string(), result)).or_default() += 1;
    }
}

/// After a 401, the challenge to answer in one more attempt (and the cached token to discard),
/// when another attempt could succeed: a cached token may have been revoked, and a request sent
/// without authorization may now be told what to send. A fresh token refused is final.
fn reauthorization(
    authorization: &Authorization,
    offered: Option<Challenge>,
    has_credentials: bool,
) -> Option<(Challenge, Option<Secret>)> {
    match (authorization, offered?) {
        (
            Authorization::Bearer {
                token,
                fresh: false,
            },
            c @ Challenge::Bearer { .. },
        ) => Some((c, Some(token.clone()))),
        (Authorization::None, c @ Challenge::Bearer { .. }) => Some((c, None)),
        (Authorization::None, Challenge::Basic) if has_credentials => {
            Some((Challenge::Basic, None))
        }
        _ => None,
    }
}

struct TokenRequest<'a> {
    realm: &'a str,
    service: Option<&'a str>,
    scope: &'a str,
    repository: &'a str,
}

fn apply(
    builder: RequestBuilder,
    authorization: &Authorization,
    credentials: Option<&Credentials>,
) -> RequestBuilder {
    match (authorization, credentials) {
        (Authorization::Bearer { token, .. }, _) => builder.bearer_auth(token.expose()),
        (Authorization::Basic, Some(c)) => {
            builder.basic_auth(&c.username, Some(c.password.expose()))
        }
        _ => builder,
    }
}

fn offered_challenge(response: &Response) -> Option<Challenge> {
    auth::select_challenge(
        response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

fn challenge_name(challenge: &Challenge) -> &'static str {
    match challenge {
        Challenge::Anonymous => "none",
        Challenge::Basic => "basic",
        Challenge::Bearer { .. } => "bearer",
    }
}

/// A network failure as `Error::Unreachable`. Only the error chain is kept: requests carry
/// secrets in headers, which reqwest errors never show.
fn unreachable_error(registry: &str, error: reqwest::Error) -> Error {
    let message = if error.is_timeout() {
        "request timed out".to_string()
    } else {
        error_chain(&error.without_url())
    };
    Error::Unreachable {
        registry: registry.to_string(),
        message,
    }
}

/// The body of `response`, refusing more than `limit` bytes (a manifest is at most 4 MiB).
pub(super) async fn read_body(
    host: &Host,
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable_error(&host.registry, e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(Error::Protocol {
                registry: host.registry.clone(),
                message: format!("answer larger than {limit} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
