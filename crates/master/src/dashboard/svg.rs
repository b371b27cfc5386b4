//! Inline SVG drawn on the server: sparklines for the overview and the node page's charts
//! (ON spans shaded, thresholds drawn). No script and no chart library needed.

use std::fmt::Write;

use super::escape::escape_html;

/// A sparkline of `points` (time ms, value), or an empty string when there are fewer than two.
pub fn sparkline(points: &[(i64, f64)]) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let (t0, t1) = time_range(points);
    let (low, high) = value_range(points.iter().map(|(_, value)| *value));
    let mut svg = String::from(
        "<svg class=\"spark\" viewBox=\"0 0 100 24\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><polyline points=\"",
    );
    for (at, value) in points {
        let x = scale(*at as f64, t0 as f64, t1 as f64, 0.0, 100.0);
        let y = scale(*value, low, high, 22.0, 2.0);
        let _ = write!(svg, "{x:.1},{y:.1} ");
    }
    svg.push_str("\"/></svg>");
    svg
}

/// A horizontal line drawn across a chart.
#[derive(Debug, Clone)]
pub struct Threshold {
    /// Its value.
    pub value: f64,
    /// Its label (escaped when drawn).
    pub label: String,
}

/// What a chart shows.
#[derive(Debug, Clone, Default)]
pub struct Chart<'a> {
    /// The sensor's name (escaped when drawn).
    pub title: &'a str,
    /// Its unit.
    pub unit: &'a str,
    /// Start and end of the time axis (ms).
    pub from_ms: i64,
    /// End of the time axis (ms).
    pub to_ms: i64,
    /// The points (time ms, value).
    pub points: &'a [(i64, f64)],
    /// Spans (start ms, end ms) an output was ON, shaded.
    pub on_spans: &'a [(i64, i64)],
    /// Thresholds of the outputs' conditions on this sensor.
    pub thresholds: &'a [Threshold],
}

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 20.0;

/// The chart as an inline `<svg>`; `time_label` formats an axis time (ms).
pub fn chart(chart: &Chart<'_>, time_label: impl Fn(i64) -> String) -> String {
    let (t0, t1) = (
        chart.from_ms as f64,
        chart.to_ms.max(chart.from_ms + 1) as f64,
    );
    let values = chart
        .points
        .iter()
        .map(|(_, value)| *value)
        .chain(chart.thresholds.iter().map(|threshold| threshold.value));
    let (low, high) = value_range(values);
    let x = |at: f64| scale(at, t0, t1, LEFT, WIDTH - RIGHT);
    let y = |value: f64| scale(value, low, high, HEIGHT - BOTTOM, TOP);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape_html(chart.title)
    );
    for (start, end) in chart.on_spans {
        let (x0, x1) = (
            x(*start as f64).max(LEFT),
            x(*end as f64).min(WIDTH - RIGHT),
        );
        if x1 > x0 {
            let _ = write!(
                svg,
                "<rect class=\"on-span\" x=\"{x0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>",
                x1 - x0,
                HEIGHT - TOP - BOTTOM
            );
        }
    }
    for tick in 0..=4 {
        let value = low + (high - low) * f64::from(tick) / 4.0;
        let level = y(value);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{level:.1}\" y2=\"{level:.1}\"/><text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            level + 3.0,
            format_value(value),
        );
    }
    for tick in 0..=3 {
        let at = t0 + (t1 - t0) * f64::from(tick) / 3.0;
        let anchor = match tick {
            0 => "start",
            3 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(at),
            HEIGHT - 6.0,
            escape_html(&time_label(at as i64))
        );
    }
    for threshold in chart.thresholds {
        let level = y(threshold.value);
        let _ = write!(
            svg,
            "<line class=\"threshold\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{level:.1}\" y2=\"{level:.1}\"/><text class=\"threshold-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT - 2.0,
            level - 3.0,
            escape_html(&threshold.label)
        );
    }
    if chart.points.len() >= 2 {
        svg.push_str("<polyline class=\"line\" points=\"");
        for (at, value) in chart.points {
            let _ = write!(svg, "{:.1},{:.1} ", x(*at as f64), y(*value));
        }
        svg.push_str("\"/>");
    } else if let Some((at, value)) = chart.points.first() {
        let _ = write!(
            svg,
            "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"/>",
            x(*at as f64),
            y(*value)
        );
    } else {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no readings in this range</text>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
    }
    let _ = write!(
        svg,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{:.1}\">{}</text></svg>",
        TOP + 2.0,
        escape_html(chart.unit)
    );
    svg
}

/// A value for an axis label: at most 3 significant decimals, no trailing zeros.
fn format_value(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn time_range(points: &[(i64, f64)]) -> (i64, i64) {
    let first = points.first().map_or(0, |(at, _)| *at);
    let last = points.last().map_or(1, |(at, _)| *at);
    (first, last.max(first + 1))
}

/// The range of `values` with a margin; a flat series gets ±1.
fn value_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values
        .filter(|value| value.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), value| {
            (low.min(value), high.max(value))
        });
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    if high - low < 1e-9 {
        return (low - 1.0, high + 1.0);
    }
    let margin = (high - low) * 0.05;
    (low - margin, high + margin)
}

fn scale(value: f64, from_low: f64, from_high: f64, to_low: f64, to_high: f64) -> f64 {
    to_low + (value - from_low) / (from_high - from_low) * (to_high - to_low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_spans_the_box() {
        let svg = sparkline(&[(0, 1.0), (50, 3.0), (100, 2.0)]);
        assert!(svg.contains("0.0,"), "{svg}");
        assert!(svg.contains("100.0,"), "{svg}");
        assert_eq!(sparkline(&[(0, 1.0)]), "");
    }

    #[test]
    fn chart_escapes_labels_and_shades_spans() {
        let svg = chart(
            &Chart {
                title: "<script>",
                unit: "<b>",
                from_ms: 0,
                to_ms: 1000,
                points: &[(0, 1.0), (1000, 2.0)],
                on_spans: &[(200, 400)],
                thresholds: &[Threshold {
                    value: 1.5,
                    label: "on < 1.5".to_owned(),
                }],
            },
            |at| format!("t{at}"),
        );
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("on &lt; 1.5"), "{svg}");
        assert!(svg.contains("class=\"on-span\""), "{svg}");
    }
}
