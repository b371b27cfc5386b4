//! One-line descriptions of validated settings, printed by `check` on success.

use crate::duration::format_duration;
use crate::settings::{NodeSettings, OutputSettings, Settings};

/// `3 nodes, 4 outputs, timezone Europe/Paris`.
pub fn settings_summary(settings: &Settings) -> String {
    let nodes = settings.nodes.len();
    let outputs: usize = settings.nodes.values().map(|node| node.outputs.len()).sum();
    format!(
        "{}, {}, timezone {}",
        counted(nodes, "node"),
        counted(outputs, "output"),
        settings.master.timezone_name
    )
}

/// One line per node, in id order, e.g.
/// `bed-1: sensors soil_moisture; outputs valve (on_when soil_moisture < 30; schedule 06:00-21:00; max_on 2m)`.
pub fn node_summaries(settings: &Settings) -> Vec<String> {
    settings.nodes.values().map(node_summary).collect()
}

fn node_summary(node: &NodeSettings) -> String {
    let sensors = if node.sensors.is_empty() {
        "no declared sensors".to_owned()
    } else {
        let names: Vec<&str> = node.sensors.keys().map(String::as_str).collect();
        format!("sensors {}", names.join(", "))
    };
    let outputs = if node.outputs.is_empty() {
        "no outputs".to_owned()
    } else {
        let described: Vec<String> = node
            .outputs
            .iter()
            .map(|(name, output)| output_summary(name, output))
            .collect();
        format!("outputs {}", described.join(", "))
    };
    format!("{}: {sensors}; {outputs}", node.id)
}

fn output_summary(name: &str, output: &OutputSettings) -> String {
    let mut rules = Vec::new();
    if let Some(on_when) = &output.on_when {
        rules.push(format!("on_when {}", on_when.source));
    }
    if let Some(off_when) = &output.off_when {
        rules.push(format!("off_when {}", off_when.source));
    }
    for require in &output.require {
        rules.push(format!("require {}", require.source));
    }
    if let Some(schedule) = &output.schedule {
        let windows: Vec<&str> = schedule.windows.iter().map(|w| w.source.as_str()).collect();
        rules.push(format!("schedule {}", windows.join(", ")));
    }
    let limits = [
        ("max_on", output.max_on),
        ("min_off", output.min_off),
        ("min_on", output.min_on),
        ("max_on_per_day", output.max_on_per_day),
    ];
    for (key, limit) in limits {
        if let Some(duration) = limit {
            rules.push(format!("{key} {}", format_duration(duration)));
        }
    }
    if rules.is_empty() {
        format!("{name} (manual only)")
    } else {
        format!("{name} ({})", rules.join("; "))
    }
}

fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
