//! The HTTP routes (CONTRACT §4) and the server's lifecycle: serve until a shutdown signal,
//! then finish in-flight requests, stop the ticker and drain the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::master::Master;
use crate::{
    dashboard, health, legacy, metrics_route, overrides, read_api, report, settings_api, ticker,
};

/// Every route of the master. The legacy routes (CONTRACT §5) are always registered and
/// answer 404 while `[legacy] enabled` is false.
pub fn router(master: Arc<Master>) -> Router {
    Router::new()
        .route("/healthz", get(health::get_healthz))
        .route("/metrics", get(metrics_route::get_metrics))
        .route("/api/v1/nodes", get(read_api::get_nodes))
        .route("/api/v1/nodes/{id}/report", post(report::post_report))
        .route("/api/v1/nodes/{id}/readings", get(read_api::get_readings))
        .route("/api/v1/events", get(read_api::get_events))
        .route(
            "/api/v1/nodes/{id}/outputs/{name}/override",
            post(overrides::set_override).delete(overrides::clear_override),
        )
        .route(
            "/api/v1/settings",
            get(settings_api::get_settings).put(settings_api::put_settings),
        )
        .route("/api/v1/settings/versions", get(settings_api::get_versions))
        .route(
            "/api/v1/settings/versions/{version}",
            get(settings_api::get_version),
        )
        .route(
            "/api/v1/settings/rollback/{version}",
            post(settings_api::post_rollback),
        )
        .merge(legacy::routes())
        .merge(dashboard::routes())
        .fallback(|| async { ApiError::not_found("no_route", "no such route; see docs/api.md") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .with_state(master)
}

/// Serves `master` on `listener` with its ticker until `shutdown` completes, then lets
/// in-flight requests finish, stops the ticker and closes the store (nothing acknowledged is
/// lost: every acknowledged write was committed before its answer).
pub async fn serve(
    master: Arc<Master>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_ticker, ticker_stopped) = watch::channel(false);
    let ticker = tokio::spawn(ticker::run_ticker(Arc::clone(&master), ticker_stopped));
    let app = router(Arc::clone(&master)).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_ticker.send(true);
    let _ = ticker.await;
    master.store().close().await?;
    tracing::info!("master stopped; store closed");
    served?;
    Ok(())
}

/// Resolves when the process receives SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT received, stopping"),
        _ = terminate => tracing::info!("SIGTERM received, stopping"),
    }
}
