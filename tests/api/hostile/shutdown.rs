//! Shutdown keeps all-or-nothing: cancelled requests clean up before the process exits.
