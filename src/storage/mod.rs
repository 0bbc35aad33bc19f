//! The S3 side: opening the store ([`Storage::open`]), its errors, object URLs and streaming uploads. Nothing
//! here knows HTTP: errors are [`StoreError`]s, which the routes turn into answers.
//!
//! One code path serves AWS S3, S3-compatible endpoints and the embedded default: each is an aws-sdk-s3 client
//! pointed at the right endpoint.
//!
//! # Layout
//! - `open`: [`Storage`] and [`Bucket`], the one way the server and the CLI reach the store.
//! - `client`: the aws-sdk-s3 client's settings; `urls`: public and presigned object URLs.
//! - `error`: [`StoreError`] and the operators' hints.
//! - [`upload`]: streaming a file into the bucket; [`body`]: the memory its parts are read into.
//! - [`resumable`]: resumable (tus) uploads, their state kept in the bucket.
//! - [`direct`]: direct-to-S3 uploads (the browser sends the bytes to the bucket): presigned POST forms.

pub mod body;
mod client;
pub mod direct;
mod error;
mod http;
mod open;
pub mod resumable;
pub mod upload;
mod urls;

pub use client::{ClientSettings, build_client, build_client_and_credentials, remote_settings};
pub use error::{ACL_HINT, StoreError, Trouble};
pub use open::{Bucket, PROBE_TIMEOUT, Storage};
pub use urls::{UrlBuilder, presigned_get};
