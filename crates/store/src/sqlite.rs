//! The embedded SQLite engine.
