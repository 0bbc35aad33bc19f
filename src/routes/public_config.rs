//! `GET /config`: what the page (or any client) may know before uploading: the field, the limits, the type
//! allowlist, whether a token is needed, and the resumable (tus) and direct-upload settings it uses.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::state::AppState;

/// What a client may know before uploading.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicConfig {
    pub field_name: String,
    pub max_file_size: u64,
    pub max_files: usize,
    /// `ALLOWED_TYPES` (empty: every type).
    pub allowed_types: Vec<String>,
    /// Whether uploads need `Authorization: Bearer <UPLOAD_TOKEN>` (the token itself is never shown).
    pub upload_token_required: bool,
    /// When the page sends a file through tus instead of `POST /upload`; `null` when it never does
    /// (`RESUMABLE_THRESHOLD=0`).
    pub resumable: Option<PublicResumable>,
    /// The page's direct uploads (to the store through the `/s3` routes).
    pub direct: PublicDirect,
}

/// The page's switch between sending through this server and straight to the store.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicDirect {
    /// `PAGE_UPLOAD_MODE`: `server` or `direct`, until the visitor flips the switch.
    pub default_mode: &'static str,
    /// Bytes per part `PUT`: one `UPLOAD_PART_SIZE`.
    pub part_size: u64,
    /// `DIRECT_URL_TTL_SECS`: how long a signed URL, and a ticket from `POST /s3/ticket`, lives.
    pub ttl_seconds: u64,
}

/// The page's resumable uploads: files of `threshold` bytes or more go to `endpoint` in `PATCH`es of
/// `chunk_size` bytes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicResumable {
    pub endpoint: &'static str,
    pub threshold: u64,
    /// One `UPLOAD_PART_SIZE`: a `PATCH` that starts on a part's boundary then fills exactly one part, which
    /// goes straight to the store (never kept as a segment), and a connection that drops loses at most one
    /// part's worth of sending.
    pub chunk_size: u64,
}

/// `GET /config`: the field name and limits, so the page can warn before uploading, and when it resumes.
pub async fn public_config(State(state): State<AppState>) -> Json<PublicConfig> {
    let upload = &state.config.upload;
    Json(PublicConfig {
        field_name: upload.field_name.clone(),
        max_file_size: upload.max_file_size,
        max_files: upload.max_files,
        allowed_types: upload.allowed_types.clone(),
        upload_token_required: state.config.access.upload_token.is_some(),
        resumable: state
            .config
            .resumable_threshold
            .map(|threshold| PublicResumable {
                endpoint: "/files/",
                threshold,
                chunk_size: upload.part_size,
            }),
        direct: PublicDirect {
            default_mode: state.config.page_upload_mode.as_str(),
            part_size: upload.part_size,
            ttl_seconds: state.config.direct_url_ttl.as_secs(),
        },
    })
}
