//! Integration tests through the public HTTP surface: one binary, one module per area.

mod direct;
mod direct_post;
mod early;
mod errors;
mod faults;
mod fixtures;
mod helpers;
mod hostile;
mod meta;
mod observability;
mod page;
mod process;
mod production;
mod proxy;
mod resumable_append;
mod resumable_state;
#[path = "../support/server.rs"]
mod server;
mod setup;
mod tus;
mod upload;
