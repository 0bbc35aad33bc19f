//! An upload server: `POST /upload` streams multipart files to S3 and answers with their public URLs, in the
//! fields of the Express + multer-s3 sample it ports. With no bucket configured it runs on an embedded
//! S3-compatible store on loopback, so it works on a fresh machine with no AWS account.
//!
//! # Layout
//! - [`config`]: every setting, read from the environment (`.env`), with its default.
//! - [`app`]: the state, router and middleware built from a config; the server and its graceful shutdown.
//! - [`routes`]: the endpoints. [`routes::upload`] receives files; [`routes::meta`] serves the page, probes and
//!   the public configuration.
//! - [`storage`]: the S3 client, object URLs, the streaming uploader ([`storage::upload`]) and the embedded
//!   store ([`storage::embedded`]).
//! - [`naming`]: file names from multipart headers, sanitized keys, `Content-Disposition` values.
//! - [`content_type`]: the type a file is stored as.
//! - [`error`]: the one error type, its stable codes and HTTP answers.
//! - [`telemetry`]: logging setup.

pub mod app;
pub mod config;
pub mod content_type;
pub mod error;
pub mod naming;
pub mod routes;
pub mod storage;
pub mod telemetry;

pub use app::Application;
pub use config::Config;
