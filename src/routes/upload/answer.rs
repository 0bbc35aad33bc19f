//! The answer to a successful upload: one object per file, in the fields and order multer and multer-s3
//! produce, and the key each file is stored under.

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::{KeyStrategy, UploadConfig, UrlMode};
use crate::error::AppError;
use crate::naming;
use crate::state::AppState;
use crate::storage::{
    self,
    upload::{ObjectSpec, StoredObject},
};

/// One stored file, in the fields and order multer and multer-s3 produce.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadedFile {
    pub fieldname: String,
    /// The exact UTF-8 name the client sent (the sample garbles non-ASCII names as latin1).
    pub originalname: String,
    pub encoding: &'static str,
    /// The type the client claimed for the part.
    pub mimetype: String,
    /// The true byte count, at every size (the sample says 0 for multipart uploads).
    pub size: u64,
    pub bucket: String,
    pub key: String,
    pub acl: Option<String>,
    /// The type the object was stored with (from its bytes, then its name; never the client's claim).
    pub content_type: String,
    pub content_disposition: String,
    pub content_encoding: Option<String>,
    pub storage_class: String,
    pub server_side_encryption: Option<String>,
    pub metadata: Option<Value>,
    /// The object's public URL: always present, always openable.
    pub location: String,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// The answer's description of a stored file (multer-s3's fields).
pub(crate) async fn describe(
    state: &AppState,
    spec: ObjectSpec,
    object: StoredObject,
    fieldname: String,
    originalname: String,
    mimetype: String,
) -> Result<UploadedFile, AppError> {
    let limits = &state.config.upload;
    let location = location(state, &spec.key).await?;
    let options = &limits.object;
    Ok(UploadedFile {
        fieldname,
        originalname,
        encoding: "7bit",
        mimetype,
        size: object.size,
        bucket: state.bucket.name().to_owned(),
        location,
        key: spec.key,
        acl: limits.acl.clone(),
        content_type: spec.content_type,
        content_disposition: spec.content_disposition,
        content_encoding: None,
        storage_class: options
            .storage_class
            .clone()
            .unwrap_or_else(|| "STANDARD".to_owned()),
        server_side_encryption: object.server_side_encryption,
        metadata: (!options.metadata.is_empty()).then(|| {
            Value::Object(
                options
                    .metadata
                    .iter()
                    .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                    .collect(),
            )
        }),
        etag: object.etag,
        version_id: object.version_id,
    })
}

/// Where a stored object opens: its public URL, or with `URL_MODE=presigned` a presigned GET made now.
pub(crate) async fn location(state: &AppState, key: &str) -> Result<String, AppError> {
    Ok(match state.config.url_mode {
        UrlMode::Public => state.bucket.urls().url(key),
        UrlMode::Presigned { ttl } => {
            storage::presigned_get(state.bucket.client(), state.bucket.name(), key, ttl).await?
        }
    })
}

/// The object key for a file: `<prefix><uuid>/<sanitized name>`, or `<prefix><sanitized name>` as the sample.
pub fn object_key(limits: &UploadConfig, original: &str) -> String {
    let name = naming::sanitize_file_name(original);
    match limits.key_strategy {
        KeyStrategy::Unique => format!("{}{}/{name}", limits.key_prefix, Uuid::now_v7().simple()),
        KeyStrategy::Original => format!("{}{name}", limits.key_prefix),
    }
}
