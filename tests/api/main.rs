//! Integration tests through the public HTTP surface: one binary, one module per area.

mod errors;
mod helpers;
mod meta;
mod upload;
