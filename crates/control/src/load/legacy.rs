//! `[legacy]`: the token-less routes of original PlantKeeper nodes (CONTRACT §5).

use std::collections::BTreeMap;

use super::nodes::LoadedNode;
use super::reader::{Fields, Reader};
use crate::settings::{IpNetwork, LegacySettings, LegacySource, LegacyType};

const KEYS: [&str; 3] = ["enabled", "allow", "map"];

/// Longest sprinkler `tag` accepted in a map key.
pub const MAX_LEGACY_TAG_CHARS: usize = 64;

/// Reads `[legacy]` (absent = disabled, nothing mapped). Mapped nodes must exist and have at
/// most one output, since an original node understands a single `power`.
pub(super) fn read_legacy(
    reader: &mut Reader<'_>,
    fields: Option<Fields<'_, '_>>,
    nodes: &[LoadedNode],
) -> LegacySettings {
    let mut legacy = LegacySettings::default();
    let Some(fields) = fields else {
        return legacy;
    };
    reader.reject_unknown_keys(fields, &KEYS, &[]);
    if let Some(value) = fields.get("enabled")
        && let Some(enabled) = reader.boolean(value, &fields.field("enabled"))
    {
        legacy.enabled = enabled;
    }
    if let Some(value) = fields.get("allow") {
        let field = fields.field("allow");
        let what = "a list of networks like `[\"10.3.141.0/24\"]`";
        for (index, (text, span)) in reader
            .strings(value, &field, what)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match text.parse::<IpNetwork>() {
                Ok(network) => legacy.allow.push(network),
                Err(message) => reader.error(&span, &format!("{field}[{index}]"), message),
            }
        }
    }
    if let Some(value) = fields.get("map") {
        let field = fields.field("map");
        let what = "a table like `{ \"sprinkler/plant-1\" = \"bed-1\", \"water\" = \"tank\" }`";
        if let Some(table) = reader.table(value, &field, what) {
            legacy.map = read_map(reader, table, &field, nodes);
        }
    }
    legacy
}

fn read_map(
    reader: &mut Reader<'_>,
    table: &toml::de::DeTable<'_>,
    field: &str,
    nodes: &[LoadedNode],
) -> BTreeMap<LegacySource, String> {
    let mut map = BTreeMap::new();
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        let entry_field = format!("{field}.\"{name}\"");
        let source = match parse_source(name) {
            Ok(source) => source,
            Err(message) => {
                reader.error(&key.span(), &entry_field, message);
                continue;
            }
        };
        let Some(node_id) = reader.string(value, &entry_field, "a node id string like `\"bed-1\"`")
        else {
            continue;
        };
        let Some(node) = nodes.iter().find(|node| node.settings.id == node_id) else {
            reader.error(
                &value.span(),
                &entry_field,
                format!("no node `{node_id}` in [nodes]; map to a configured node"),
            );
            continue;
        };
        let outputs = node.settings.outputs.len();
        if outputs > 1 {
            let names: Vec<&str> = node.settings.outputs.keys().map(String::as_str).collect();
            reader.error(
                &value.span(),
                &entry_field,
                format!(
                    "node `{node_id}` has {outputs} outputs ({}); an original node understands a single `power`, so map it to a node with at most one output",
                    names.join(", ")
                ),
            );
            continue;
        }
        if let Some(previous) = map.insert(source.clone(), node_id.to_owned()) {
            reader.error(
                &key.span(),
                &entry_field,
                format!("`{source}` is already mapped to `{previous}` (aliases are the same type)"),
            );
        }
    }
    map
}

/// `TYPE` or `sprinkler/TAG`, aliases accepted and normalised.
fn parse_source(name: &str) -> Result<LegacySource, String> {
    let canonical: Vec<&str> = LegacyType::ALL.iter().map(|kind| kind.name()).collect();
    let (type_name, tag) = match name.split_once('/') {
        Some((type_name, tag)) => (type_name, Some(tag)),
        None => (name, None),
    };
    let Some(kind) = LegacyType::from_name(type_name) else {
        return Err(format!(
            "unknown legacy node type `{type_name}`; expected one of: {} (or an alias: sprinkler-valve, water-pump, humidifier)",
            canonical.join(", ")
        ));
    };
    match (kind, tag) {
        (LegacyType::Sprinkler, None) => Err(format!(
            "a sprinkler is told apart by its tag: write `\"{type_name}/TAG\"`, e.g. `\"sprinkler/plant-1\"`"
        )),
        (LegacyType::Sprinkler, Some(tag)) => {
            let length = tag.chars().count();
            if length == 0 || length > MAX_LEGACY_TAG_CHARS || tag.chars().any(char::is_control) {
                Err(format!(
                    "a sprinkler tag is 1 to {MAX_LEGACY_TAG_CHARS} printable characters, got `{tag}`"
                ))
            } else {
                Ok(LegacySource {
                    kind,
                    tag: Some(tag.to_owned()),
                })
            }
        }
        (_, Some(_)) => Err(format!(
            "only sprinklers have a tag; write `\"{}\"`",
            kind.name()
        )),
        (_, None) => Ok(LegacySource { kind, tag: None }),
    }
}
