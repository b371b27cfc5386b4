//! Reading `deploy/grafana` as Grafana does: the provisioning YAML, the dashboards' JSON, and
//! every query they hold, with what Grafana needs to run it ([`expand`]).

pub mod expand;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `deploy/grafana` in this repository.
pub fn grafana_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana")
}

/// Every file with one of `extensions` under `dir`, sorted (recursively).
pub fn files_under(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .unwrap_or_else(|error| panic!("listing {}: {error}", current.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A YAML or JSON file as a JSON value; a parse error names the file and position.
pub fn parse_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let parsed = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(&text).map_err(|error| error.to_string()),
        _ => serde_norway::from_str(&text).map_err(|error| error.to_string()),
    };
    parsed.unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The string at `pointer` in `value`, or "" when absent.
pub fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The items of the array at `pointer`, or none.
pub fn items<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
