//! Direct-to-S3 uploads: the browser sends a file's bytes to the bucket itself, with a form or URLs this server
//! signs, instead of through this server. Nothing here knows HTTP: the routes answer with what these build.
//!
//! # Layout
//! - `post_policy`: presigned POST forms ([`presign_post`]): one file, one request, what it may be pinned by a
//!   signed policy.

mod post_policy;

pub use post_policy::{PostPolicy, PresignedPost, presign_post, presign_post_at};
