//! TOML text → [`crate::Settings`], collecting every error with its position.
//!
//! The file is parsed into a spanned TOML tree (`toml::de::DeTable`), which is then walked
//! section by section. Nothing stops at the first problem: every mistake in the file is
//! reported in one run, each as `FILE:LINE:COL: path.to.field: message`. If the TOML itself is
//! malformed, only the syntax errors are reported (checking the meaning of a half-read file
//! would mostly produce noise).
//!
//! Beyond types and ranges, loading rejects: unknown keys (with a "did you mean" hint — a typo
//! must never silently disable a safety rule), references to unknown nodes or outputs,
//! reference cycles between outputs, sunrise/sunset windows without a location, and
//! `on_when`/`off_when` pairs that could never work (see `conflicts`).

mod alerts;
mod conflicts;
mod cycles;
mod dashboard;
mod environment;
mod error;
mod formats;
mod legacy;
mod master;
mod mdns;
mod nodes;
mod outputs;
mod reader;
mod restart;
mod source;
mod storage;
pub(crate) mod suggest;
mod telemetry;
mod timing;

use std::path::Path;

use toml::de::DeTable;

pub use alerts::{
    DEFAULT_MAX_PER_HOUR, DEFAULT_NODE_SILENT_AFTER, DEFAULT_REPEAT_EVERY, MAX_MAX_PER_HOUR,
    NODE_SILENT_AFTER_LIMITS, REPEAT_EVERY_LIMITS, RULE_FOR_LIMITS,
};
pub use environment::{ADMIN_TOKEN_SHA256_ENV, apply_environment};
pub use error::{ConfigError, LoadError};
pub use legacy::MAX_LEGACY_TAG_CHARS;
pub use master::{DEFAULT_DATABASE, DEFAULT_LISTEN, DEFAULT_TIMEZONE};
pub use mdns::{DEFAULT_MDNS_NAME, MDNS_NAME_RULE, is_valid_dns_label};
pub use nodes::MIN_TOKEN_CHARS;
pub use outputs::{MAX_ON_LIMITS, MAX_ON_PER_DAY_LIMITS, MIN_OFF_LIMITS, MIN_ON_LIMITS};
pub use reader::DurationLimits;
pub use restart::restart_required;
pub use storage::{
    DEFAULT_KEEP_HOURLY, DEFAULT_KEEP_RAW, DEFAULT_SPOOL, KEEP_HOURLY_LIMITS, KEEP_RAW_LIMITS,
};
pub use telemetry::DEFAULT_LOG;
pub use timing::{BUILT_IN_DEFAULTS, LEASE_LIMITS, REPORT_EVERY_LIMITS, STALE_AFTER_LIMITS};

use crate::settings::Settings;
use reader::{Fields, Reader};

const ROOT_KEYS: [&str; 8] = [
    "master",
    "telemetry",
    "alerts",
    "defaults",
    "nodes",
    "legacy",
    "storage",
    "dashboard",
];
const ROOT_MISPLACED: [(&str, &str); 11] = [
    ("listen", "in [master]"),
    ("database", "in [master]"),
    ("timezone", "in [master]"),
    ("latitude", "in [master]"),
    ("longitude", "in [master]"),
    ("log", "in [telemetry]"),
    ("report_every", "in [defaults]"),
    ("stale_after", "in [defaults]"),
    ("lease", "in [defaults]"),
    ("keep_raw", "in [storage]"),
    ("keep_hourly", "in [storage]"),
];

/// Loads settings from config text; `file_name` is only used in error positions.
///
/// Returns every problem found, in file order, when the text is not a valid config.
pub fn load_settings(file_name: &str, text: &str) -> Result<Settings, Vec<ConfigError>> {
    let mut reader = Reader::new(file_name, text);
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let offset = error.span().map_or(0, |span| span.start);
            reader.error_at(offset, "", error.message());
        }
        return Err(reader.into_errors());
    }
    let root_span = document.span();
    let root = document.get_ref();
    let root_fields = Fields {
        table: root,
        path: "",
        span: &root_span,
    };
    reader.reject_unknown_keys(root_fields, &ROOT_KEYS, &ROOT_MISPLACED);

    let master_section = section(&mut reader, root, "master");
    let master = master::read_master(&mut reader, master_section.as_ref().map(Section::fields));
    let telemetry_section = section(&mut reader, root, "telemetry");
    let telemetry =
        telemetry::read_telemetry(&mut reader, telemetry_section.as_ref().map(Section::fields));
    let storage_section = section(&mut reader, root, "storage");
    let storage = storage::read_storage(
        &mut reader,
        storage_section.as_ref().map(Section::fields),
        &master.database,
    );
    let defaults = match section(&mut reader, root, "defaults") {
        Some(section) => {
            let fields = section.fields();
            reader.reject_unknown_keys(fields, &timing::TIMING_KEYS, &[]);
            let (defaults, origin) = timing::read_timing(&mut reader, fields, BUILT_IN_DEFAULTS);
            timing::check_timing(&mut reader, defaults, &origin);
            defaults
        }
        None => BUILT_IN_DEFAULTS,
    };
    let nodes_value = root.get("nodes");
    let index = nodes::output_index(nodes_value);
    let alerts_section = section(&mut reader, root, "alerts");
    let alerts = alerts::read_alerts(
        &mut reader,
        alerts_section.as_ref().map(Section::fields),
        &index,
    );
    let loaded = nodes::read_nodes(&mut reader, nodes_value, defaults, &index, master.location);
    cycles::reject_cycles(&mut reader, &loaded);
    conflicts::reject_conflicts(&mut reader, &loaded);
    let legacy_section = section(&mut reader, root, "legacy");
    let legacy = legacy::read_legacy(
        &mut reader,
        legacy_section.as_ref().map(Section::fields),
        &loaded,
    );
    let dashboard_section = section(&mut reader, root, "dashboard");
    let dashboard =
        dashboard::read_dashboard(&mut reader, dashboard_section.as_ref().map(Section::fields));

    if reader.has_errors() {
        return Err(reader.into_errors());
    }
    Ok(Settings {
        master,
        telemetry,
        alerts,
        defaults,
        legacy,
        storage,
        dashboard,
        nodes: loaded
            .into_iter()
            .map(|node| (node.settings.id.clone(), node.settings))
            .collect(),
    })
}

/// Reads and loads a config file.
pub fn load_file(path: &Path) -> Result<Settings, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_settings(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Reads and loads a config file, then applies the overrides set in this process's
/// environment ([`apply_environment`]): what `check` and `serve` run.
pub fn load_file_with_env(path: &Path) -> Result<Settings, LoadError> {
    let mut settings = load_file(path)?;
    apply_environment(&mut settings, |name| std::env::var_os(name))?;
    Ok(settings)
}

/// A top-level section that is present and is a table.
struct Section<'t, 'i> {
    name: &'static str,
    table: &'t DeTable<'i>,
    span: std::ops::Range<usize>,
}

impl<'t, 'i> Section<'t, 'i> {
    fn fields(&self) -> Fields<'_, 'i> {
        Fields {
            table: self.table,
            path: self.name,
            span: &self.span,
        }
    }
}

/// The top-level section `name`, when present; a non-table value is reported.
fn section<'t, 'i>(
    reader: &mut Reader<'_>,
    root: &'t DeTable<'i>,
    name: &'static str,
) -> Option<Section<'t, 'i>> {
    let value = root.get(name)?;
    let table = reader.table(value, name, &format!("a table `[{name}]`"))?;
    Some(Section {
        name,
        table,
        span: value.span(),
    })
}
