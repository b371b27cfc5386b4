//! Bearer-token checks: tokens are stored as SHA-256 digests and compared in constant time.
//! [`Admin`] is the one check of the admin side of the API.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::master::Master;

/// An authenticated admin request, as an axum extractor: the request carries the admin
/// token, or comes from a logged-in dashboard session (writes also carry the session's CSRF
/// token in `X-CSRF-Token`, see [`crate::dashboard::access::session_admin`]). Refused with 401
/// (no credentials) or 403 (a session write without its CSRF token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// Who made the request, as recorded in the settings history: `admin token`.
    pub author: String,
}

impl FromRequestParts<Arc<Master>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        master: &Arc<Master>,
    ) -> Result<Admin, ApiError> {
        if !parts.headers.contains_key(AUTHORIZATION)
            && let Some(author) = crate::dashboard::access::session_admin(master, parts)?
        {
            return Ok(Admin { author });
        }
        require_admin(master, &parts.headers)?;
        Ok(Admin {
            author: "admin token".to_owned(),
        })
    }
}

/// Accepts the request if it carries the admin token.
pub fn require_admin(master: &Master, headers: &HeaderMap) -> Result<(), ApiError> {
    match &master.settings().master.admin_token_sha256 {
        Some(expected) => require_token(headers, expected, "admin"),
        None => Err(ApiError::unauthorized(
            "the admin API is disabled: set [master] admin_token_sha256 in the settings",
        )),
    }
}

/// The SHA-256 digest of a token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer ...` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Accepts the request when its bearer token hashes to `expected`; the comparison takes the
/// same time whatever the token.
pub fn require_token(
    headers: &HeaderMap,
    expected: &[u8; 32],
    whose: &str,
) -> Result<(), ApiError> {
    let Some(token) = bearer_token(headers) else {
        return Err(ApiError::unauthorized(format!(
            "missing bearer token: send `Authorization: Bearer <{whose} token>`"
        )));
    };
    if bool::from(token_digest(token).ct_eq(expected)) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(format!("wrong {whose} token")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers_with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(value).expect("valid header"),
        );
        headers
    }

    #[test]
    fn accepts_the_right_token_only() {
        let expected = token_digest("s3cret-token-of-node");
        assert!(
            require_token(
                &headers_with("Bearer s3cret-token-of-node"),
                &expected,
                "node"
            )
            .is_ok()
        );
        assert!(
            require_token(
                &headers_with("bearer s3cret-token-of-node"),
                &expected,
                "node"
            )
            .is_ok()
        );
        assert!(require_token(&headers_with("Bearer wrong"), &expected, "node").is_err());
        assert!(
            require_token(
                &headers_with("Basic s3cret-token-of-node"),
                &expected,
                "node"
            )
            .is_err()
        );
        assert!(require_token(&HeaderMap::new(), &expected, "node").is_err());
    }
}
