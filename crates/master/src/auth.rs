//! Bearer-token checks: tokens are stored as SHA-256 digests and compared in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

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
