//! `clean` on a shared bucket: it stays within KEY_PREFIX unless told `--all`.
