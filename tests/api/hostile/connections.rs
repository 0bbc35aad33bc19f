//! Connections, headers and HTTP/2 streams: bounded, and idle ones closed.
