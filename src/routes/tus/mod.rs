//! Resumable uploads over tus 1.0.0 at `/files`: discovery (`OPTIONS`), creation (`POST /files`, also with a
//! deferred length), bytes (`PATCH /files/<id>`, with the `checksum` extension), `HEAD` and `GET /files/<id>`,
//! termination (`DELETE`). The uploads themselves, and their state in the bucket, are
//! [`crate::storage::resumable`]'s.
//!
//! Every request goes through one handler per path (`collection`, `upload`), which works out the method
//! (`X-HTTP-Method-Override` on a `POST`), then checks, in this order: the method (405), the upload token
//! (401, not for `OPTIONS`), `Tus-Resumable` (412). Every answer, errors included, carries `Tus-Resumable`
//! and `Cache-Control: no-store`.
//!
//! - [`headers`]: `Upload-Length`, `Upload-Offset`, `Upload-Defer-Length` and `Upload-Expires`.
//! - [`metadata`]: `Upload-Metadata`, and the file name and type it claims.
//! - `creation`: `POST /files`.
//! - `patch`: `PATCH /files/<id>`, a body appended in its own task.
//! - `sniff`: the first bytes judged against `ALLOWED_TYPES`, and the stored type recorded.
//! - `completed`: a completed upload's object, as `X-Object-Location` and as `GET` describes it.
//! - `status`: `HEAD`, `GET` and `DELETE /files/<id>`.

mod completed;
mod creation;
pub mod headers;
pub mod metadata;
mod patch;
mod sniff;
mod status;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use super::auth;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::resumable::Resumable;
use crate::storage::resumable::cas::InfoStore;
use crate::storage::resumable::info::{Info, UploadId};

/// The only protocol version this server speaks.
pub const TUS_VERSION: &str = "1.0.0";

/// The extensions this server speaks.
pub const TUS_EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const TUS_VERSION_HEADER: HeaderName = HeaderName::from_static("tus-version");
const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
const TUS_CHECKSUM_ALGORITHM: HeaderName = HeaderName::from_static("tus-checksum-algorithm");
const METHOD_OVERRIDE: HeaderName = HeaderName::from_static("x-http-method-override");

/// The creation endpoint, with and without its trailing slash (clients are configured either way).
const FILES: &str = "/files";
const FILES_SLASH: &str = "/files/";
/// One upload.
const UPLOAD: &str = "/files/{id}";
pub const PATHS: &[&str] = &[FILES, FILES_SLASH, UPLOAD];

/// The methods each path takes (its `Allow` on a 405).
const COLLECTION_METHODS: &str = "OPTIONS, POST";
const UPLOAD_METHODS: &str = "OPTIONS, HEAD, GET, PATCH, DELETE";

/// The tus routes, each behind the token (but `OPTIONS`) and the version check, with tus's common headers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(FILES, any(collection))
        .route(FILES_SLASH, any(collection))
        .route(UPLOAD, any(upload))
        .layer(axum::middleware::map_response(common_headers))
        .with_state(state)
}

/// `/files`: discovery and creation.
async fn collection(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match effective_method(&method, &headers) {
        Method::OPTIONS => options(&state),
        Method::POST => match refusal(&state, &headers, true) {
            Some(refusal) => refusal,
            None => into_answer(creation::create(&state, &headers, body).await),
        },
        _ => method_not_allowed(COLLECTION_METHODS),
    }
}

/// `/files/<id>`: one upload. A `POST` without an override is not tus's (405).
async fn upload(
    State(state): State<AppState>,
    method: Method,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let method = effective_method(&method, &headers);
    let version_required = match method {
        Method::OPTIONS => return options(&state),
        Method::HEAD | Method::GET => false,
        Method::DELETE | Method::PATCH => true,
        _ => return method_not_allowed(UPLOAD_METHODS),
    };
    if let Some(refusal) = refusal(&state, &headers, version_required) {
        return refusal;
    }
    // An id that is not one this server makes is an upload that does not exist, and never reaches the store.
    let Some(id) = id.ok().and_then(|Path(id)| UploadId::parse(&id)) else {
        return AppError::UploadNotFound.into_response();
    };
    let answer = match method {
        Method::HEAD => status::head(&state, &id).await,
        Method::GET => status::get(&state, &id).await,
        Method::PATCH => patch::patch(&state, id, &headers, body).await,
        _ => status::delete(&state, &id).await,
    };
    into_answer(answer)
}

/// The method a request means: a `POST` may carry another in `X-HTTP-Method-Override` (for clients and
/// proxies that only pass GET and POST); on any other method that header is ignored.
fn effective_method(method: &Method, headers: &HeaderMap) -> Method {
    if method != Method::POST {
        return method.clone();
    }
    headers
        .get(METHOD_OVERRIDE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_uppercase())
        .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
        .unwrap_or(Method::POST)
}

/// The answer refusing a request, if any: the token first, then `Tus-Resumable`, which must be exactly 1.0.0
/// where `required` (POST, PATCH, DELETE) and may be absent on HEAD and GET (a browser opening the URL), but
/// not another version.
fn refusal(state: &AppState, headers: &HeaderMap, required: bool) -> Option<Response> {
    if let Some(refusal) = auth::token_refusal(state, headers) {
        return Some(refusal);
    }
    match headers.get(TUS_RESUMABLE) {
        None if !required => None,
        Some(version) if version.as_bytes() == TUS_VERSION.as_bytes() => None,
        _ => {
            let mut response = AppError::TusVersionUnsupported.into_response();
            response
                .headers_mut()
                .insert(TUS_VERSION_HEADER, HeaderValue::from_static(TUS_VERSION));
            Some(response)
        }
    }
}

/// `OPTIONS`: what this server speaks, without the token (a client asks before it has one).
fn options(state: &AppState) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (TUS_VERSION_HEADER, HeaderValue::from_static(TUS_VERSION)),
            (TUS_EXTENSION, HeaderValue::from_static(TUS_EXTENSIONS)),
            (
                TUS_CHECKSUM_ALGORITHM,
                HeaderValue::from_static(crate::storage::resumable::checksum::ALGORITHMS),
            ),
            (
                TUS_MAX_SIZE,
                HeaderValue::from(state.config.upload.max_file_size),
            ),
        ],
    )
        .into_response()
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = AppError::MethodNotAllowed.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn into_answer(answer: Result<Response, AppError>) -> Response {
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `Tus-Resumable` and `Cache-Control: no-store` on every answer: an upload's state changes with every request,
/// so no cache may keep one.
async fn common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The records of this app's uploads.
/// The record of upload `id`; a completion left half done is finished first (storage::resumable::recover).
async fn recovered(state: &AppState, id: &UploadId) -> Result<Info, AppError> {
    let resumable = Resumable::new(&state.uploader, state.config.upload.key_prefix.clone());
    Ok(resumable.recover(id).await?)
}

fn info_store(state: &AppState) -> InfoStore {
    InfoStore::new(
        state.bucket.client().clone(),
        state.bucket.name(),
        state.config.upload.key_prefix.clone(),
    )
}
