//! Resumable uploads over tus 1.0.0 at `/files/` (not routed yet): the protocol's headers, read and written
//! here; the uploads themselves are [`crate::storage::resumable`]'s.
//!
//! - [`headers`]: `Upload-Length`, `Upload-Offset`, `Upload-Defer-Length` and `Upload-Expires`.
//! - [`metadata`]: `Upload-Metadata`, and the file name and type it claims.

pub mod headers;
pub mod metadata;
