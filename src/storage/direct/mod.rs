//! Direct uploads: the browser sends the bytes straight to the store, with a form or URLs this server signs,
//! under the same rules as `POST /upload` (key, type, options, limits). Nothing here knows HTTP:
//! `routes::direct` speaks Companion's `/s3` protocol with what these build.
//!
//! - `post_policy`: presigned POST forms ([`presign_post`]): one file, one request, pinned by a signed policy.
//! - [`record`]: the record of each multipart upload this server created (`<KEY_PREFIX>.direct/<id>.json`).
//! - [`multipart`]: creating such an upload, signing part URLs, listing parts, aborting it; `complete.rs`:
//!   completing it and checking the object (size, type from its first bytes).
//! - [`sweep`]: abandoned uploads (no part URL asked for within `DIRECT_URL_TTL_SECS`) aborted.

mod complete;
pub mod multipart;
mod post_policy;
pub mod record;
pub mod sweep;

pub use post_policy::{PostPolicy, PresignedPost, presign_post, presign_post_at};
