//! Attacks that cheap, hostile clients can mount, each reproduced through HTTP on loopback with bounded loops,
//! so that they stay fixed (issue 10). One file per kind of attack.

mod clean;
mod connections;
mod names;
mod script;
mod settings;
mod shutdown;
mod slow;
mod store;
