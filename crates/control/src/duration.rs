//! Durations as written in the config: humantime style (`500ms`, `15s`, `2m`, `1h30m`).
