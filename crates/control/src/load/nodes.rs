//! `[nodes.ID]`: token, timing overrides, sensors, and (via [`super::outputs`]) outputs.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use toml::de::DeValue;

use super::formats::parse_sha256_hex;
use super::outputs::{LoadedOutput, OUTPUT_KEYS, OutputContext, read_output};
use super::reader::{Fields, Reader, Value, join};
use super::timing::{TimingOrigin, check_timing, read_timing};
use crate::condition::parse::{NAME_RULE, NODE_ID_RULE, is_valid_name, is_valid_node_id};
use crate::condition::resolve::OutputIndex;
use crate::schedule::Location;
use crate::settings::{Defaults, NodeSettings, SensorSettings};

/// Shortest plain `token` accepted.
pub const MIN_TOKEN_CHARS: usize = 16;

const NODE_KEYS: [&str; 7] = [
    "token_sha256",
    "token",
    "report_every",
    "stale_after",
    "lease",
    "sensors",
    "outputs",
];
const SENSOR_KEYS: [&str; 3] = ["min", "max", "unit"];

/// A node as read, with what the cross-output rules need to know about its outputs.
pub(super) struct LoadedNode {
    pub(super) settings: NodeSettings,
    pub(super) outputs: Vec<LoadedOutput>,
}

/// Every node id with its output names, read before the nodes themselves so that conditions
/// can refer to outputs defined further down the file. Nodes with an invalid id are included
/// (their id is reported once, not at every reference).
pub(super) fn output_index(nodes: Option<&Value<'_>>) -> OutputIndex {
    let mut index = OutputIndex::new();
    let Some(DeValue::Table(nodes)) = nodes.map(|value| value.get_ref()) else {
        return index;
    };
    for (id, node) in nodes.iter() {
        let outputs = match node.get_ref() {
            DeValue::Table(node) => match node.get("outputs").map(|value| value.get_ref()) {
                Some(DeValue::Table(outputs)) => outputs
                    .iter()
                    .map(|(name, _)| name.get_ref().to_string())
                    .collect(),
                _ => BTreeSet::new(),
            },
            _ => BTreeSet::new(),
        };
        index.insert(id.get_ref().to_string(), outputs);
    }
    index
}

/// Reads every `[nodes.ID]`.
pub(super) fn read_nodes(
    reader: &mut Reader<'_>,
    nodes: Option<&Value<'_>>,
    defaults: Defaults,
    index: &OutputIndex,
    location: Option<Location>,
) -> Vec<LoadedNode> {
    let Some(nodes) = nodes else {
        return Vec::new();
    };
    let Some(table) = reader.table(nodes, "nodes", "a table of nodes like `[nodes.bed-1]`") else {
        return Vec::new();
    };
    let mut loaded = Vec::new();
    for (key, value) in table.iter() {
        let id = key.get_ref().as_ref();
        let path = join("nodes", id);
        if !is_valid_node_id(id) {
            reader.error(
                &key.span(),
                &path,
                format!("invalid node id `{id}`: {NODE_ID_RULE}"),
            );
        }
        let Some(node_table) = reader.table(value, &path, "a node table like `[nodes.bed-1]`")
        else {
            continue;
        };
        let span = value.span();
        let fields = Fields {
            table: node_table,
            path: &path,
            span: &span,
        };
        let context = OutputContext {
            node: id,
            index,
            location,
        };
        loaded.push(read_node(reader, fields, defaults, &context));
    }
    loaded
}

fn read_node(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    defaults: Defaults,
    context: &OutputContext<'_>,
) -> LoadedNode {
    let misplaced: Vec<(&str, &str)> = OUTPUT_KEYS
        .iter()
        .map(|key| (*key, "to an output: put it under [nodes.ID.outputs.NAME]"))
        .collect();
    reader.reject_unknown_keys(fields, &NODE_KEYS, &misplaced);
    let token_sha256 = read_token(reader, fields);
    let (timing, origin): (Defaults, TimingOrigin) = read_timing(reader, fields, defaults);
    check_timing(reader, timing, &origin);
    let sensors = read_sensors(reader, fields);
    let mut outputs = Vec::new();
    if let Some(value) = fields.get("outputs") {
        let path = fields.field("outputs");
        if let Some(table) = reader.table(
            value,
            &path,
            "a table of outputs like `[nodes.ID.outputs.valve]`",
        ) {
            for (key, output) in table.iter() {
                let name = key.get_ref().as_ref();
                let output_path = join(&path, name);
                if !is_valid_name(name) {
                    reader.error(
                        &key.span(),
                        &output_path,
                        format!("invalid output name `{name}`: {NAME_RULE}"),
                    );
                }
                if let Some(loaded) = read_output(reader, output, &output_path, name, context) {
                    outputs.push(loaded);
                }
            }
        }
    }
    let settings = NodeSettings {
        id: context.node.to_owned(),
        token_sha256: token_sha256.unwrap_or_default(),
        report_every: timing.report_every,
        stale_after: timing.stale_after,
        lease: timing.lease,
        sensors,
        outputs: outputs
            .iter()
            .map(|output| (output.name.clone(), output.settings.clone()))
            .collect(),
    };
    LoadedNode { settings, outputs }
}

/// `token_sha256` or `token` (hashed here): exactly one is required.
fn read_token(reader: &mut Reader<'_>, fields: Fields<'_, '_>) -> Option<[u8; 32]> {
    match (fields.get("token_sha256"), fields.get("token")) {
        (Some(_), Some(token)) => {
            reader.error(
                &token.span(),
                &fields.field("token"),
                "set either `token_sha256` or `token`, not both",
            );
            None
        }
        (None, None) => {
            reader.error(
                fields.span,
                fields.path,
                "missing `token_sha256` (or `token` for tests): every node needs a bearer token",
            );
            None
        }
        (Some(value), None) => {
            let field = fields.field("token_sha256");
            let text = reader.string(value, &field, "a SHA-256 digest string")?;
            parse_sha256_hex(text)
                .map_err(|message| reader.error(&value.span(), &field, message))
                .ok()
        }
        (None, Some(value)) => {
            let field = fields.field("token");
            let text = reader.string(value, &field, "a token string")?;
            let length = text.chars().count();
            if length < MIN_TOKEN_CHARS {
                reader.error(
                    &value.span(),
                    &field,
                    format!("a token needs at least {MIN_TOKEN_CHARS} characters, got {length}"),
                );
                return None;
            }
            Some(Sha256::digest(text.as_bytes()).into())
        }
    }
}

/// `sensors.NAME = { min, max, unit }`.
fn read_sensors(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
) -> BTreeMap<String, SensorSettings> {
    let mut sensors = BTreeMap::new();
    let Some(value) = fields.get("sensors") else {
        return sensors;
    };
    let path = fields.field("sensors");
    let what = "a table of sensors like `sensors.soil_moisture = { min = 0, max = 100 }`";
    let Some(table) = reader.table(value, &path, what) else {
        return sensors;
    };
    for (key, sensor) in table.iter() {
        let name = key.get_ref().as_ref();
        let sensor_path = join(&path, name);
        if !is_valid_name(name) {
            reader.error(
                &key.span(),
                &sensor_path,
                format!("invalid sensor name `{name}`: {NAME_RULE}"),
            );
        }
        let what = "a sensor table like `{ min = 0, max = 100, unit = \"%\" }`";
        let Some(sensor_table) = reader.table(sensor, &sensor_path, what) else {
            continue;
        };
        let span = sensor.span();
        let sensor_fields = Fields {
            table: sensor_table,
            path: &sensor_path,
            span: &span,
        };
        reader.reject_unknown_keys(sensor_fields, &SENSOR_KEYS, &[]);
        let min = sensor_fields
            .get("min")
            .and_then(|value| reader.number(value, &sensor_fields.field("min")));
        let max = sensor_fields
            .get("max")
            .and_then(|value| reader.number(value, &sensor_fields.field("max")));
        if let (Some(low), Some(high), Some(max_value)) = (min, max, sensor_fields.get("max"))
            && low >= high
        {
            reader.error(
                &max_value.span(),
                &sensor_fields.field("max"),
                format!("`max` ({high}) must be greater than `min` ({low})"),
            );
        }
        let unit = sensor_fields
            .get("unit")
            .and_then(|value| {
                reader.string(
                    value,
                    &sensor_fields.field("unit"),
                    "a unit string like `%`",
                )
            })
            .map(str::to_owned);
        sensors.insert(name.to_owned(), SensorSettings { min, max, unit });
    }
    sensors
}
