//! An upload server: `POST /upload` streams multipart files to S3 and answers with their public URLs, in the
//! fields of the Express + multer-s3 sample it ports. With no bucket configured it runs on an embedded
//! S3-compatible store on loopback, so it works on a fresh machine with no AWS account.
//!
//! # Layout
//! Dependencies point one way: the binary → [`cli`] and [`app`] → [`routes`] → [`state`] → [`storage`] →
//! [`embedded`], [`config`], [`naming`], [`lifecycle`]. Nothing under [`storage`] knows HTTP.
//! - [`config`]: every setting, read from the environment (`.env`), with its default.
//! - [`app`]: the application assembled: the store opened, the state, the feature routers merged under the
//!   middleware they share, the port bound.
//! - [`state`]: what every request handler shares.
//! - [`server`]: serving connections with what each client may hold bounded (connections, header time, idle
//!   connections, HTTP/2 streams), and a shutdown that cancels unfinished uploads and waits for their clean-up.
//!   Each connection is served on one of the lanes (`lanes.rs`): threads with a single-threaded runtime each.
//! - [`lifecycle`]: the tracked upload tasks, their cancellation, and the ledger of what is not settled yet.
//! - [`routes`]: one router per feature. [`routes::upload`] receives files; [`routes::tus`] resumable uploads
//!   (tus 1.0.0); [`routes::meta`] serves the page, probes and the public configuration;
//!   [`routes::metrics`] the metrics; [`routes::openapi`] the API description (`static/openapi.json`).
//! - [`error`]: the HTTP error type, its stable codes and JSON answers; the one place where the store's errors
//!   become answers.
//! - [`storage`]: opening the store (the one way, for the server and the CLI), its errors, object URLs, and the
//!   streaming uploader ([`storage::upload`]), and resumable uploads: their state in the bucket and bodies
//!   appended to them ([`storage::resumable`]), and what direct-to-S3 uploads sign: presigned POST forms
//!   ([`storage::direct`]).
//! - [`embedded`]: the S3-compatible store (s3s-fs, served over HTTP on loopback) used when no bucket is
//!   configured; [`storage`] starts it, with CORS for the server's pages.
//! - [`naming`]: file names from multipart headers, sanitized keys, `Content-Disposition` values.
//! - [`content_type`]: the type a file is stored as.
//! - [`metrics`]: the Prometheus metrics, one registry per app, and the middleware that records them.
//! - [`telemetry`]: logging setup, and escaping client input in log lines.
//! - [`cli`]: the binary's `check` (is the bucket set up as the seed sets it up?) and `clean` (empty it, delete
//!   it) commands, on the store opened as the server opens it.

pub mod app;
pub mod cli;
pub mod config;
pub mod content_type;
pub mod embedded;
pub mod error;
mod lanes;
pub mod lifecycle;
pub mod metrics;
pub mod naming;
pub mod routes;
pub mod server;
pub mod state;
pub mod storage;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
