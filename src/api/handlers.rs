//! The API's handlers. Each reads the publisher (status, metrics, the state database) or asks
//! the runner for a pass; none touches the engine.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use super::ApiState;
use crate::{ledger, metrics};

/// `/v1/history` without `?limit=`.
const DEFAULT_HISTORY: usize = 20;

pub fn error_body(message: &str) -> Response {
    json_response(StatusCode::OK, json!({ "error": message }).to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    let mut response = error_body(message);
    *response.status_mut() = status;
    response
}

pub async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({ "status": "ok" }).to_string())
}

pub async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let body = state.publisher.metrics().encode();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        body,
    )
        .into_response()
}

/// Runs a pass, or joins the one running, and answers with its report: the object
/// `refit update --json` prints.
pub async fn update(State(state): State<Arc<ApiState>>) -> Response {
    match state.triggers.request().await {
        Ok(Ok(report)) => json_response(StatusCode::OK, report.to_json()),
        Ok(Err(why)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("pass failed: {why}"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

pub async fn status(State(state): State<Arc<ApiState>>) -> Response {
    let status = state.publisher.status();
    let body = json!({
        "running": status.running,
        "next_pass": status
            .next_pass
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "last_error": status.last_error,
        "pending_updates": status.pending(),
        "last_report": status.last_report.as_deref(),
    });
    json_response(StatusCode::OK, body.to_string())
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
}

pub async fn history(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let limit = query
        .limit
        .unwrap_or(DEFAULT_HISTORY)
        .clamp(1, ledger::HISTORY_KEPT);
    let publisher = Arc::clone(&state.publisher);
    // SQLite is blocking; a history read may wait for the runner's write.
    let passes =
        tokio::task::spawn_blocking(move || ledger::history(publisher.store(), limit)).await;
    match passes {
        Ok(Ok(passes)) => json_response(StatusCode::OK, json!({ "passes": passes }).to_string()),
        Ok(Err(e)) => {
            warn!(error = %e, "cannot read the pass history");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the pass history",
            )
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the pass history",
        ),
    }
}
