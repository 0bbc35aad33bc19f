//! Integration tests through the public HTTP surface: one binary, one module per area.

mod errors;
mod faults;
mod helpers;
mod meta;
mod process;
mod proxy;
mod upload;
