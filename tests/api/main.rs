//! Integration tests through the public HTTP surface: one binary, one module per area.

mod errors;
mod faults;
mod helpers;
mod meta;
mod proxy;
mod upload;
