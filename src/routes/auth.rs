//! Who may upload: an optional bearer token (`UPLOAD_TOKEN`, for `POST /upload` and the tus routes but their
//! `OPTIONS`) and CORS for other origins' pages (the form upload and tus's methods and headers).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::AccessConfig;
use crate::error::AppError;
use crate::state::AppState;

/// Refuses `POST /upload` without `Authorization: Bearer <UPLOAD_TOKEN>` when a token is configured, before
/// any of the body is read.
pub async fn require_upload_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match token_refusal(&state, request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

/// The 401 answer (with `WWW-Authenticate: Bearer`) to a request without the upload token, when one is
/// configured; `None` when the request may go on. The tus routes call it for every method but `OPTIONS`.
pub fn token_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let expected = state.config.access.upload_token.as_ref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or_default();
    if constant_time_eq(given.trim().as_bytes(), expected.expose().as_bytes()) {
        return None;
    }
    let mut response = AppError::Unauthorized.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(response)
}

/// Compares in time that depends only on the lengths, so the token cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The request headers a page may send: the upload token, the form's type, and tus's (design 1.9). Listed one
/// by one: a `*` would not cover `Authorization`.
const ALLOWED_HEADERS: [&str; 10] = [
    "authorization",
    "content-type",
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-defer-length",
    "upload-metadata",
    "upload-checksum",
    "x-http-method-override",
    "x-request-id",
];

/// The answer headers a page may read: without `Location` and `Upload-Offset`, tus-js-client in a browser
/// cannot create or resume an upload across origins; without `X-Object-Location` the page cannot show the file.
const EXPOSED_HEADERS: [&str; 14] = [
    "location",
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-metadata",
    "upload-expires",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    "x-object-location",
    "retry-after",
    "x-request-id",
];

/// CORS for `CORS_ALLOWED_ORIGINS`; none (same-origin only) when the list is empty.
pub fn cors_layer(access: &AccessConfig) -> Option<CorsLayer> {
    if access.cors_allowed_origins.is_empty() {
        return None;
    }
    let origin = if access.cors_allowed_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            access
                .cors_allowed_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
            .expose_headers(EXPOSED_HEADERS.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_needs_every_byte() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }
}
