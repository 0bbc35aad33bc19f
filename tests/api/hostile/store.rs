//! The embedded store as an attacker reaches it: keys beside the bucket, panics, side files left by deletes, leftovers of a previous run.
