//! The embedded stylesheet and script, served with a content hash as ETag.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// (name, content type, content) of every asset.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
];

/// Total size of the assets in bytes (for page-weight measurements).
pub fn assets_bytes() -> usize {
    ASSETS.iter().map(|(_, _, content)| content.len()).sum()
}

/// `GET /assets/{name}`.
pub async fn get_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, content_type, content)) = ASSETS.iter().find(|(known, _, _)| *known == name)
    else {
        return crate::error::ApiError::not_found("no_route", "no such asset").into_response();
    };
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(content.as_bytes())[..8])
    );
    let cached = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == etag);
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (*content).into_response()
    };
    let response_headers = response.headers_mut();
    response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(ETAG, value);
    }
    response
}
