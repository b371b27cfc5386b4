//! `GET /healthz`: 200 when the store is writable, 503 otherwise.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::master::Master;

/// How long the write probe may take before the store counts as unhealthy.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health answer.
pub async fn get_healthz(
    State(master): State<Arc<Master>>,
) -> (StatusCode, Json<serde_json::Value>) {
    match tokio::time::timeout(PROBE_TIMEOUT, master.store().check_writable()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ok", "epoch": master.epoch() })),
        ),
        Ok(Err(error)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({ "status": "error", "message": format!("the store is not writable: {error}") }),
            ),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                serde_json::json!({ "status": "error", "message": "the store did not answer within 2s" }),
            ),
        ),
    }
}
