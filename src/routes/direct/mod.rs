//! Direct uploads at `/s3`, the routes of Uppy Companion's S3 endpoints, so that `@uppy/aws-s3` (6.x) with
//! `companionEndpoint` set to this server works unchanged: the browser sends the bytes straight to the store
//! with URLs signed here, and this server decides the key, the type and the options, and checks the object
//! when the upload completes (`storage::direct`).
//!
//! - `params.rs`: `GET /s3/params`, a presigned POST form for one file (when nothing needs checking).
//! - `multipart.rs`: `POST /s3/multipart`, part URLs, the parts list, completion, abort.
//! - `ticket.rs`: `POST /s3/ticket`, the page's way to carry `UPLOAD_TOKEN` where Uppy sends no header.
//!
//! Every route is under the token: `Authorization: Bearer <UPLOAD_TOKEN>` on `/s3/...`, or a ticket in the path
//! on `/direct/<ticket>/s3/...` (the same routes).

mod multipart;
mod params;
mod ticket;

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::auth;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::direct::multipart::DirectUploads;
use crate::storage::resumable::create::unix_now;

const TICKET: &str = "/s3/ticket";
const PARAMS: &str = "/s3/params";
const MULTIPART: &str = "/s3/multipart";
const UPLOAD: &str = "/s3/multipart/{upload_id}";
const PART: &str = "/s3/multipart/{upload_id}/{part}";
const COMPLETE: &str = "/s3/multipart/{upload_id}/complete";
const TICKETED: &str = "/direct/{ticket}";

/// This feature's paths, the ticketed ones included.
pub const PATHS: &[&str] = &[
    TICKET,
    PARAMS,
    "/direct/{ticket}/s3/params",
    MULTIPART,
    UPLOAD,
    PART,
    COMPLETE,
    "/direct/{ticket}/s3/multipart",
    "/direct/{ticket}/s3/multipart/{upload_id}",
    "/direct/{ticket}/s3/multipart/{upload_id}/{part}",
    "/direct/{ticket}/s3/multipart/{upload_id}/complete",
];

/// The `/s3` routes behind the token, the same behind a ticket, and `POST /s3/ticket`.
pub fn router(state: AppState) -> Router {
    let token = axum::middleware::from_fn_with_state(state.clone(), auth::require_upload_token);
    let ticketed = axum::middleware::from_fn_with_state(state.clone(), require_ticket);
    Router::new()
        .merge(s3_routes().route_layer(token.clone()))
        .nest(TICKETED, s3_routes().route_layer(ticketed))
        .route(TICKET, post(ticket_for_page).route_layer(token))
        .with_state(state)
}

fn s3_routes() -> Router<AppState> {
    Router::new()
        .route(PARAMS, get(params::params))
        .route(MULTIPART, post(multipart::create))
        .route(UPLOAD, get(multipart::list_parts).delete(multipart::abort))
        .route(PART, get(multipart::part_url))
        .route(COMPLETE, post(multipart::complete))
}

/// The direct uploads of the app's bucket.
fn uploads(state: &AppState) -> DirectUploads {
    DirectUploads::new(
        &state.uploader,
        state.config.upload.key_prefix.clone(),
        state.config.direct_url_ttl,
    )
}

/// Lets a ticketed request through when its ticket is valid (or when no token is configured).
async fn require_ticket(
    State(state): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = state.config.access.upload_token.as_ref() else {
        return next.run(request).await;
    };
    let ticket = params.get("ticket").map(String::as_str).unwrap_or_default();
    if ticket::is_valid(token.expose().as_bytes(), ticket, unix_now()) {
        next.run(request).await
    } else {
        AppError::Unauthorized.into_response()
    }
}

/// `POST /s3/ticket` (behind the token): `{"companionEndpoint": "/direct/<ticket>", "expires"}`, the value a page
/// gives `@uppy/aws-s3` (prefixed with this server's origin when the page is elsewhere). Without a token, the
/// endpoint is the server itself (`""`).
async fn ticket_for_page(State(state): State<AppState>) -> Response {
    let ttl = state.config.direct_url_ttl.as_secs();
    let expires_at = unix_now() + ttl;
    let endpoint = match state.config.access.upload_token.as_ref() {
        Some(token) => format!(
            "/direct/{}",
            ticket::issue(token.expose().as_bytes(), expires_at)
        ),
        None => String::new(),
    };
    axum::Json(serde_json::json!({
        "companionEndpoint": endpoint,
        "expiresInSeconds": ttl,
    }))
    .into_response()
}
