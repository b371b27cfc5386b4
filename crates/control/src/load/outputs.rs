//! `[nodes.ID.outputs.NAME]`: conditions, interlocks, schedule and protections of one output.

use std::ops::Range;
use std::time::Duration;

use super::reader::{DurationLimits, Fields, Reader, Value};
use super::timing::TIMING_KEYS;
use crate::condition::parse::{RawCondition, parse_condition};
use crate::condition::resolve::{OutputIndex, resolve_condition};
use crate::condition::{ConditionExpr, OutputRef};
use crate::duration::format_duration;
use crate::schedule::parse::{parse_window, window_needs_location};
use crate::schedule::{Location, Schedule};
use crate::settings::OutputSettings;

/// The keys of an output table.
pub(super) const OUTPUT_KEYS: [&str; 8] = [
    "on_when",
    "off_when",
    "require",
    "schedule",
    "max_on",
    "min_off",
    "min_on",
    "max_on_per_day",
];

const ONE_DAY: Duration = Duration::from_secs(86_400);
/// `max_on`: positive, at most 24 hours.
pub const MAX_ON_LIMITS: DurationLimits = DurationLimits::up_to(ONE_DAY);
/// `min_on`: positive, at most 24 hours.
pub const MIN_ON_LIMITS: DurationLimits = DurationLimits::up_to(ONE_DAY);
/// `min_off`: positive, at most 7 days.
pub const MIN_OFF_LIMITS: DurationLimits = DurationLimits::up_to(Duration::from_secs(7 * 86_400));
/// `max_on_per_day`: positive, at most 24 hours.
pub const MAX_ON_PER_DAY_LIMITS: DurationLimits = DurationLimits::up_to(ONE_DAY);

/// What reading an output needs to know about the rest of the config.
pub(super) struct OutputContext<'a> {
    /// The id of the node that owns the output.
    pub(super) node: &'a str,
    /// Every node and its outputs, to resolve references.
    pub(super) index: &'a OutputIndex,
    /// The master's location, needed by sunrise/sunset windows.
    pub(super) location: Option<Location>,
}

/// Where a condition was written, for errors found after loading (cycles, conflicts).
#[derive(Debug, Clone)]
pub(super) struct Written {
    /// Byte offset in the file.
    pub(super) offset: usize,
    /// Dotted field path.
    pub(super) field: String,
}

/// A reference from one output's conditions to another output.
pub(super) struct OutputEdge {
    /// The output referred to.
    pub(super) to: OutputRef,
    /// Where the reference is written.
    pub(super) at: Written,
}

/// An output as read, with the positions the cross-output rules need.
pub(super) struct LoadedOutput {
    /// The output name.
    pub(super) name: String,
    /// The validated settings.
    pub(super) settings: OutputSettings,
    /// Every reference to an output in `on_when`, `off_when` and `require`.
    pub(super) edges: Vec<OutputEdge>,
    /// Where `on_when` is written.
    pub(super) on_when_at: Option<Written>,
    /// Where `off_when` is written.
    pub(super) off_when_at: Option<Written>,
    /// Where each `require` condition is written, in order.
    pub(super) require_at: Vec<Written>,
}

/// Reads one output table; `None` when it is not a table at all.
pub(super) fn read_output(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    path: &str,
    name: &str,
    context: &OutputContext<'_>,
) -> Option<LoadedOutput> {
    let table = reader.table(
        value,
        path,
        "an output table like `[nodes.ID.outputs.valve]`",
    )?;
    let span = value.span();
    let fields = Fields {
        table,
        path,
        span: &span,
    };
    let misplaced: Vec<(&str, &str)> = TIMING_KEYS
        .iter()
        .map(|key| (*key, "to the node ([nodes.ID]) or to [defaults]"))
        .chain([("sensors", "to the node ([nodes.ID])")])
        .collect();
    reader.reject_unknown_keys(fields, &OUTPUT_KEYS, &misplaced);

    let mut loaded = LoadedOutput {
        name: name.to_owned(),
        settings: OutputSettings {
            on_when: None,
            off_when: None,
            require: Vec::new(),
            schedule: None,
            max_on: None,
            min_off: None,
            min_on: None,
            max_on_per_day: None,
        },
        edges: Vec::new(),
        on_when_at: None,
        off_when_at: None,
        require_at: Vec::new(),
    };
    for key in ["on_when", "off_when"] {
        let Some(value) = fields.get(key) else {
            continue;
        };
        let field = fields.field(key);
        let what = "a condition string like `soil_moisture < 30`";
        let Some(text) = reader.string(value, &field, what) else {
            continue;
        };
        let at = Written {
            offset: value.span().start,
            field: field.clone(),
        };
        let condition = read_condition(
            reader,
            text,
            &value.span(),
            &field,
            context,
            &mut loaded.edges,
        );
        if key == "on_when" {
            loaded.settings.on_when = condition;
            loaded.on_when_at = Some(at);
        } else {
            loaded.settings.off_when = condition;
            loaded.off_when_at = Some(at);
        }
    }
    if let (Some(at), None) = (&loaded.off_when_at, fields.get("on_when")) {
        reader.error_at(
            at.offset,
            &at.field,
            "`off_when` without `on_when` can never take effect: add an `on_when` (an output with only a schedule is ON inside its windows)",
        );
    }
    if let Some(value) = fields.get("require") {
        let field = fields.field("require");
        let what = "an array of conditions like `[\"tank.level >= 20\"]`";
        if let Some(items) = reader.strings(value, &field, what) {
            for (index, (text, item_span)) in items.into_iter().enumerate() {
                let item_field = format!("{field}[{index}]");
                let condition = read_condition(
                    reader,
                    text,
                    &item_span,
                    &item_field,
                    context,
                    &mut loaded.edges,
                );
                if let Some(condition) = condition {
                    loaded.settings.require.push(condition);
                    loaded.require_at.push(Written {
                        offset: item_span.start,
                        field: item_field,
                    });
                }
            }
        }
    }
    loaded.settings.schedule = read_schedule(reader, fields, context.location);
    let protections: [(&str, DurationLimits, &mut Option<Duration>); 4] = [
        ("max_on", MAX_ON_LIMITS, &mut loaded.settings.max_on),
        ("min_off", MIN_OFF_LIMITS, &mut loaded.settings.min_off),
        ("min_on", MIN_ON_LIMITS, &mut loaded.settings.min_on),
        (
            "max_on_per_day",
            MAX_ON_PER_DAY_LIMITS,
            &mut loaded.settings.max_on_per_day,
        ),
    ];
    for (key, limits, slot) in protections {
        if let Some(value) = fields.get(key) {
            *slot = reader.duration(value, &fields.field(key), limits);
        }
    }
    if let (Some(min_on), Some(max_on), Some(value)) = (
        loaded.settings.min_on,
        loaded.settings.max_on,
        fields.get("min_on"),
    ) && min_on > max_on
    {
        reader.error(
            &value.span(),
            &fields.field("min_on"),
            format!(
                "`min_on` ({}) must not exceed `max_on` ({})",
                format_duration(min_on),
                format_duration(max_on)
            ),
        );
    }
    Some(loaded)
}

/// Parses and resolves one condition string, reporting errors at their column in the file and
/// collecting the output references it makes into `edges`.
fn read_condition(
    reader: &mut Reader<'_>,
    text: &str,
    span: &Range<usize>,
    field: &str,
    context: &OutputContext<'_>,
    edges: &mut Vec<OutputEdge>,
) -> Option<ConditionExpr> {
    let raw = match parse_condition(text) {
        Ok(raw) => raw,
        Err(error) => {
            let offset = reader.lines.inside_string(span, error.offset);
            reader.error_at(offset, field, error.message);
            return None;
        }
    };
    match resolve_condition(&raw, context.node, context.index) {
        Ok(root) => {
            collect_output_edges(&raw, &mut |node, output, inner| {
                edges.push(OutputEdge {
                    to: OutputRef {
                        node: node.to_owned(),
                        output: output.to_owned(),
                    },
                    at: Written {
                        offset: reader.lines.inside_string(span, inner),
                        field: field.to_owned(),
                    },
                });
            });
            Some(ConditionExpr {
                source: text.trim().to_owned(),
                root,
            })
        }
        Err(errors) => {
            for error in errors {
                let offset = reader.lines.inside_string(span, error.offset);
                reader.error_at(offset, field, error.message);
            }
            None
        }
    }
}

/// Calls `found(node, output, offset)` for every output reference of a resolved condition
/// (after resolution, every bare operand is an output reference).
fn collect_output_edges(raw: &RawCondition, found: &mut dyn FnMut(&str, &str, usize)) {
    match raw {
        RawCondition::Compare { .. } => {}
        RawCondition::Bare(operand) => {
            if let Some(node) = &operand.node {
                found(node, &operand.name, operand.offset);
            }
        }
        RawCondition::Not(inner) => collect_output_edges(inner, found),
        RawCondition::And(terms) | RawCondition::Or(terms) => {
            for term in terms {
                collect_output_edges(term, found);
            }
        }
    }
}

/// `schedule = ["06:00-21:00", ...]`.
fn read_schedule(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    location: Option<Location>,
) -> Option<Schedule> {
    let value = fields.get("schedule")?;
    let field = fields.field("schedule");
    let what = "an array of windows like `[\"06:00-21:00\"]`";
    let items = reader.strings(value, &field, what)?;
    if items.is_empty() {
        reader.error(
            &value.span(),
            &field,
            "an empty schedule would keep the output OFF forever; remove `schedule` to run at any time",
        );
        return None;
    }
    let mut windows = Vec::new();
    for (index, (text, span)) in items.into_iter().enumerate() {
        let item_field = format!("{field}[{index}]");
        match parse_window(text) {
            Ok(window) => {
                if location.is_none() && window_needs_location(&window) {
                    reader.error(
                        &span,
                        &item_field,
                        format!(
                            "`{}` uses sunrise/sunset, which needs `latitude` and `longitude` in [master]",
                            window.source
                        ),
                    );
                }
                windows.push(window);
            }
            Err(error) => {
                let offset = reader.lines.inside_string(&span, error.offset);
                reader.error_at(offset, &item_field, error.message);
            }
        }
    }
    Some(Schedule { windows })
}
