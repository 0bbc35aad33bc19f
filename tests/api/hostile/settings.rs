//! Settings that cannot work are refused at start, naming themselves.
