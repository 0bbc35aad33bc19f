//! The HTTP endpoints, one module per group.

pub mod auth;
pub mod meta;
pub mod openapi;
pub mod upload;
