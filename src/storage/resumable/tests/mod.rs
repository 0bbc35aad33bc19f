//! Unit tests of the resumable uploads' state.

mod info;
mod sweep;
