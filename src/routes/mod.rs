//! The HTTP endpoints, one module per group.

pub mod meta;
pub mod upload;
