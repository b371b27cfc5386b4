//! The browser dashboard (docs/dashboard.md), served from the binary: login and sessions,
//! server-rendered pages with inline SVG charts, and a small embedded CSS and script.
//! Nothing is fetched from elsewhere at run time.

pub mod access;
pub mod assets;
pub mod escape;
pub mod events_page;
pub mod html;
pub mod login;
pub mod node_page;
pub mod overrides_page;
pub mod overview;
pub mod password;
pub mod range;
pub mod sessions;
pub mod settings_page;
pub mod settings_view;
pub mod sparklines;
pub mod svg;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use crate::master::Master;

/// The dashboard's state inside the master.
#[derive(Debug, Default)]
pub struct DashboardState {
    /// Sessions and the login throttle.
    pub sessions: sessions::Sessions,
    /// The overview's sparklines.
    pub sparklines: sparklines::SparklineCache,
}

/// The dashboard's routes.
pub fn routes() -> Router<Arc<Master>> {
    Router::new()
        .route("/", get(get_root))
        .route("/login", get(login::get_login).post(login::post_login))
        .route("/logout", post(login::post_logout))
        .route("/overview.json", get(overview::get_overview_json))
        .route("/nodes/{id}", get(node_page::get_node_page))
        .route("/events", get(events_page::get_events_page))
        .route("/overrides", get(overrides_page::get_overrides_page))
        .route(
            "/overrides/{node}/{output}/{action}",
            post(overrides_page::post_override_form),
        )
        .route("/settings", get(settings_page::get_settings_page))
        .route("/settings/check", post(settings_page::post_check))
        .route("/settings/apply", post(settings_page::post_apply))
        .route(
            "/settings/versions/{version}",
            get(settings_page::get_version_page),
        )
        .route(
            "/settings/rollback/{version}",
            post(settings_page::post_rollback),
        )
        .route("/assets/{name}", get(assets::get_asset))
}

/// `GET /`: the overview for a viewer; otherwise the login form, answered 200 (original
/// PlantKeeper firmware checks that `GET /` answers 200, CONTRACT §5).
async fn get_root(
    State(master): State<Arc<Master>>,
    viewer: Result<access::Viewer, Response>,
    facts: login::RequestFacts,
) -> Response {
    match viewer {
        Ok(viewer) => overview::overview_page(&master, &viewer).await,
        Err(_) => login::login_page(&facts, StatusCode::OK, None, "/"),
    }
}
