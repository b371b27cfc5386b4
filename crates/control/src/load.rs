//! TOML text → [`crate::Settings`], collecting every error with its position.
