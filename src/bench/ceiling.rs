//! `plantkeeper bench-ceiling`: the HTTP ceiling. The same server stack as the master (axum on
//! tokio, same route shape) answering every report with a fixed small JSON body after reading
//! the request body — no authentication, parsing, storage or decision. What the master reaches
//! relative to it is what its own work costs.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::post;
use plantkeeper_master::app::shutdown_signal;

use crate::cli::CommandError;

/// The fixed answer, shaped and sized like the master's answer to a one-valve node.
const FIXED_ANSWER: &str = r#"{"acked_seq":1,"epoch":1,"report_every_ms":1000,"outputs":{"valve":{"power":false,"lease_ms":0,"reason":"soil_moisture 50 >= 45"}}}"#;

/// Listens on `listen`, prints the bound address on stdout, and answers reports until SIGINT
/// or SIGTERM.
pub async fn run_ceiling(listen: SocketAddr) -> Result<(), CommandError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let bound = listener.local_addr().context("reading the bound address")?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{bound}").context("printing the bound address")?;
    stdout.flush().context("printing the bound address")?;
    let app = Router::new()
        .route("/api/v1/nodes/{id}/report", post(answer_report))
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving the ceiling")?;
    Ok(())
}

/// Takes the whole body (as the master does) and answers the fixed JSON.
async fn answer_report(body: Bytes) -> impl IntoResponse {
    drop(body);
    ([(CONTENT_TYPE, "application/json")], FIXED_ANSWER)
}
