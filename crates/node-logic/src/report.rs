//! The report body of CONTRACT §4 (`{"seq", "boot", "readings", "outputs", "backlog"}`)
//! encoded into a fixed buffer.
//!
//! The current readings and outputs must fit; backlog entries are added oldest first while
//! they fit (and at most [`MAX_BACKLOG_ENTRIES`]), and [`Encoded::backlog_sent`] says how
//! many made it, so only those are forgotten once the master acknowledges the report.
//! Readings without a value and non-finite values (JSON has no NaN) are left out.

use core::fmt::{self, Write as _};

use plantkeeper_protocol::MAX_BACKLOG_ENTRIES;

use crate::backlog::Backlog;
use crate::json::{SliceWriter, write_string};

/// The name of the reading that counts backlog entries dropped since boot (sent only when
/// some were).
pub const BACKLOG_DROPPED: &str = "backlog_dropped";

/// Everything one report says.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a, const SENSORS: usize, const OUTPUTS: usize, const CAPACITY: usize> {
    /// This report's sequence number.
    pub seq: u32,
    /// The random number picked at boot.
    pub boot: u32,
    /// Sensor names, valid per `plantkeeper_protocol::is_valid_sensor_name`.
    pub sensor_names: &'a [&'a str; SENSORS],
    /// The readings taken now, one per sensor.
    pub readings: &'a [Option<f32>; SENSORS],
    /// Output names.
    pub output_names: &'a [&'a str; OUTPUTS],
    /// The relay state the node actually has, one per output.
    pub outputs: &'a [bool; OUTPUTS],
    /// Readings kept while the master was unreachable.
    pub backlog: &'a Backlog<SENSORS, CAPACITY>,
    /// Now, on the node's clock: backlog ages are measured against it.
    pub now_ms: u32,
}

/// A report that was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// Bytes written.
    pub len: usize,
    /// How many of the oldest backlog entries it carries.
    pub backlog_sent: usize,
}

/// The buffer cannot hold even the report without its backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the report buffer cannot hold the current readings")
    }
}

/// Writes a finite `value` as a JSON number: plainly (`41.5`) for everyday magnitudes, in
/// exponent form (`3.4028235e38`) for the extremes, so no value takes more than 15 bytes.
fn write_number(out: &mut SliceWriter<'_>, value: f32) -> fmt::Result {
    if value == 0.0 || (1e-4..1e9).contains(&value.abs()) {
        write!(out, "{value}")
    } else {
        write!(out, "{value:e}")
    }
}

/// Writes `{"name":value,...}` for the values that are present and finite, plus
/// `extra` (name, count) when given.
fn write_readings<const SENSORS: usize>(
    out: &mut SliceWriter<'_>,
    names: &[&str; SENSORS],
    values: &[Option<f32>; SENSORS],
    extra: Option<(&str, u32)>,
) -> fmt::Result {
    out.write_char('{')?;
    let mut first = true;
    let mut separator = |out: &mut SliceWriter<'_>| {
        let result = if first { Ok(()) } else { out.write_char(',') };
        first = false;
        result
    };
    for (name, value) in names.iter().zip(values) {
        if let Some(value) = value.filter(|value| value.is_finite()) {
            separator(out)?;
            write_string(out, name)?;
            out.write_char(':')?;
            write_number(out, value)?;
        }
    }
    if let Some((name, count)) = extra {
        separator(out)?;
        write_string(out, name)?;
        write!(out, ":{count}")?;
    }
    out.write_char('}')
}

/// Encodes `report` into `buf`.
pub fn encode<const SENSORS: usize, const OUTPUTS: usize, const CAPACITY: usize>(
    report: &Report<'_, SENSORS, OUTPUTS, CAPACITY>,
    buf: &mut [u8],
) -> Result<Encoded, BufferTooSmall> {
    let mut out = SliceWriter::new(buf);
    let dropped = report.backlog.dropped();
    let extra = (dropped > 0).then_some((BACKLOG_DROPPED, dropped));
    let head = |out: &mut SliceWriter<'_>| -> fmt::Result {
        write!(
            out,
            "{{\"seq\":{},\"boot\":{},\"readings\":",
            report.seq, report.boot
        )?;
        write_readings(out, report.sensor_names, report.readings, extra)?;
        out.write_str(",\"outputs\":{")?;
        for (index, (name, on)) in report.output_names.iter().zip(report.outputs).enumerate() {
            if index > 0 {
                out.write_char(',')?;
            }
            write_string(out, name)?;
            write!(out, ":{on}")?;
        }
        out.write_char('}')
    };
    head(&mut out).map_err(|fmt::Error| BufferTooSmall)?;
    // Room for the closing `]}` or `}` is kept back while backlog entries are added.
    const CLOSING: usize = 2;
    if out.remaining() < CLOSING {
        return Err(BufferTooSmall);
    }
    let mut backlog_sent = 0;
    for sample in report.backlog.iter().take(MAX_BACKLOG_ENTRIES) {
        let before = out.len();
        let age = report.now_ms.wrapping_sub(sample.taken_at);
        let written = (|| {
            out.write_str(if backlog_sent == 0 {
                ",\"backlog\":["
            } else {
                ","
            })?;
            write!(out, "{{\"age_ms\":{age},\"readings\":")?;
            write_readings(&mut out, report.sensor_names, &sample.values, None)?;
            out.write_char('}')
        })();
        if written.is_err() || out.remaining() < CLOSING {
            out.truncate(before);
            break;
        }
        backlog_sent += 1;
    }
    let closing = if backlog_sent > 0 { "]}" } else { "}" };
    out.write_str(closing)
        .map_err(|fmt::Error| BufferTooSmall)?;
    Ok(Encoded {
        len: out.len(),
        backlog_sent,
    })
}
