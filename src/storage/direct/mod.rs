//! Direct uploads: the browser sends the bytes straight to the store with URLs this server signs, under the
//! same rules as `POST /upload` (key, type, options, limits). Nothing here knows HTTP: `routes::direct`
//! speaks Companion's `/s3` protocol.
//!
//! - [`record`]: the record of each multipart upload this server created (`<KEY_PREFIX>.direct/<id>.json`).
//! - [`multipart`]: creating such an upload, signing part URLs, listing parts, completing it and checking the
//!   object (size, type from its first bytes), aborting it.
//! - [`sweep`]: abandoned uploads (no part URL asked for within `DIRECT_URL_TTL_SECS`) aborted.

pub mod multipart;
pub mod record;
pub mod sweep;
