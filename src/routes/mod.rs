//! The HTTP endpoints: one router per feature, merged where the application is assembled ([`crate::app`]).
//!
//! - [`upload`]: `POST /upload`, behind [`auth`]'s token check.
//! - [`meta`]: the page, `/health`, `/ready`, and `/config` ([`public_config`]).
//! - [`metrics`]: `GET /metrics`.
//! - [`openapi`]: `GET /openapi.json`.
//! - [`direct`]: direct-to-S3 uploads at `/s3` (Uppy Companion's S3 routes), behind the token or a ticket.
//! - [`tus`]: resumable uploads (tus 1.0.0) at `/files`, behind the same token; no bytes taken yet (no PATCH).
//!
//! [`PATHS`] lists every route's path: the OpenAPI tests hold `static/openapi.json` to it.

pub mod auth;
pub mod direct;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod public_config;
pub mod tus;
pub mod upload;

/// Every path the routers route, feature by feature (each router is built from its own list).
pub const PATHS: [&[&str]; 6] = [
    meta::PATHS,
    upload::PATHS,
    tus::PATHS,
    direct::PATHS,
    metrics::PATHS,
    openapi::PATHS,
];
