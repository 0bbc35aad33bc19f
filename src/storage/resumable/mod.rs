//! Resumable uploads (tus 1.0.0) kept in the bucket: no copy of the server holds an upload's state between
//! requests, so any copy can take the next one. Nothing here knows HTTP: `routes::tus` speaks the protocol.
//!
//! # Layout
//! - [`info`]: the state record (`<KEY_PREFIX>.resumable/<id>/info.json`), its invariants, the upload ids and
//!   the keys of an upload's state and segments.
//! - [`cas`]: reading and writing that record by compare-and-swap (`If-None-Match` / `If-Match`).
//! - [`checksum`]: `Upload-Checksum`'s algorithms and the hasher that runs over a request's body.
//! - [`create`]: a new upload's first record, after an early look at its final key.
//! - [`append`]: a request's body appended (PATCH): claim, parts, segment, commit or completion. `attempt.rs`
//!   runs one claimed append (`attempt/finish.rs`: its completion), `input.rs` reads the segments and the body,
//!   `parts.rs` makes its store requests.
//! - [`kind`]: the stored type, recorded once the route judged the first bytes.
//! - [`recover`]: a completion left half done (the store failed it, the server stopped) finished by the next
//!   request that looks at the upload.
//! - [`terminate`]: an upload removed at its client's request (tombstone, abort, segments, record).
//! - [`sweep`]: expired uploads removed the same way, by a pass the server runs periodically and `clean
//!   --expired-uploads` runs once; the listing `check` shows.

pub mod append;
mod attempt;
pub mod cas;
pub mod checksum;
pub mod create;
pub mod info;
mod input;
pub mod kind;
mod parts;
pub mod recover;
pub mod sweep;
pub mod terminate;

pub use append::{AppendError, Appended, Resumable};

#[cfg(test)]
mod tests;
