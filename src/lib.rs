//! An upload server: `POST /upload` streams multipart files to S3 and answers with their public URLs, in the
//! fields of the Express + multer-s3 sample it ports. With no bucket configured it runs on an embedded
//! S3-compatible store on loopback, so it works on a fresh machine with no AWS account.
//!
//! # Layout
//! - [`config`]: every setting, read from the environment (`.env`), with its default.
//! - [`app`]: the state, router and middleware built from a config.
//! - [`server`]: serving connections with what each client may hold bounded (connections, header time, idle
//!   connections, HTTP/2 streams), and a shutdown that cancels unfinished uploads and waits for their clean-up.
//! - [`lifecycle`]: the tracked upload tasks, their cancellation, and the ledger of what is not settled yet.
//! - [`routes`]: the endpoints. [`routes::upload`] receives files; [`routes::meta`] serves the page, probes and
//!   the public configuration; [`routes::openapi`] the API description (`static/openapi.json`).
//! - [`storage`]: the S3 client, object URLs, the streaming uploader ([`storage::upload`]) and the embedded
//!   store ([`storage::embedded`]).
//! - [`naming`]: file names from multipart headers, sanitized keys, `Content-Disposition` values.
//! - [`content_type`]: the type a file is stored as.
//! - [`error`]: the one error type, its stable codes and HTTP answers.
//! - [`metrics`]: the Prometheus metrics of `GET /metrics`, one registry per app, and the middleware that
//!   records them.
//! - [`telemetry`]: logging setup, and escaping client input in log lines.
//! - [`cli`]: the binary's `check` (is the bucket set up as the seed sets it up?) and `clean` (empty it, delete
//!   it) commands.

pub mod app;
pub mod cli;
pub mod config;
pub mod content_type;
pub mod error;
pub mod lifecycle;
pub mod metrics;
pub mod naming;
pub mod routes;
pub mod server;
pub mod storage;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
