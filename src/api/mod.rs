//! The HTTP API (`[api]`, off by default): `GET /healthz`, `GET /metrics`, and under `/v1/`
//! `update` (Watchtower's path: `POST`, and `GET` as Watchtower accepts), `status` and
//! `history`. docs/api.md is the reference.
//!
//! `/v1/*` need `Authorization: Bearer <token>`, and so does `/metrics` unless
//! `metrics_public`; `/healthz` never does. The token is compared in constant time (as
//! SHA-256 digests, so its length does not show either) and never logged.
//!
//! Handlers hold no engine: a pass is asked of the daemon's runner over its channel
//! (`daemon::Triggers`), so the API can never start a second pass beside a running one.

mod handlers;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::daemon::Triggers;
use crate::publish::Publisher;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the API server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// What the handlers share.
pub struct ApiState {
    pub triggers: Triggers,
    pub publisher: Arc<Publisher>,
    /// SHA-256 of the token; `None`: `/v1/*` always answer 401.
    token: Option<[u8; 32]>,
    pub metrics_public: bool,
}

impl ApiState {
    pub fn new(
        triggers: Triggers,
        publisher: Arc<Publisher>,
        token: Option<&Secret>,
        metrics_public: bool,
    ) -> ApiState {
        ApiState {
            triggers,
            publisher,
            token: token.map(|t| Sha256::digest(t.expose().as_bytes()).into()),
            metrics_public,
        }
    }

    /// Whether the request's `Authorization` header carries the token.
    fn authorized(&self, request: &Request) -> bool {
        let Some(expected) = &self.token else {
            return false;
        };
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(presented) = presented else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(expected).into()
    }
}

/// Binds `address` (an error names it), so `refit run` fails at start rather than later.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind { address, source })
}

/// Serves until `shutdown`; requests in flight are finished first.
pub async fn serve(
    listener: TcpListener,
    state: Arc<ApiState>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    if let Ok(address) = listener.local_addr() {
        info!(%address, "api listening");
    }
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(Error::Serve)
}

pub fn router(state: Arc<ApiState>) -> Router {
    let private = Router::new()
        .route("/v1/update", get(handlers::update).post(handlers::update))
        .route("/v1/status", get(handlers::status))
        .route("/v1/history", get(handlers::history));
    let private = if state.metrics_public {
        private
    } else {
        private.route("/metrics", get(handlers::metrics))
    };
    let private = private.route_layer(middleware::from_fn_with_state(
        Arc::clone(&state),
        require_token,
    ));
    let public = Router::new().route("/healthz", get(handlers::healthz));
    let public = if state.metrics_public {
        public.route("/metrics", get(handlers::metrics))
    } else {
        public
    };
    public.merge(private).with_state(state)
}

async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    if state.authorized(&request) {
        return next.run(request).await;
    }
    // The path only: the header may hold a mistyped token.
    warn!(
        path = request.uri().path(),
        "api request without the right token"
    );
    let body = handlers::error_body("missing or wrong Bearer token");
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        body,
    )
        .into_response()
}
