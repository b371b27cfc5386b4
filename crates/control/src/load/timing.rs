//! `report_every`, `stale_after` and `lease`: in `[defaults]` and per node, with the rules that
//! tie them together.

use std::ops::Range;
use std::time::Duration;

use super::reader::{DurationLimits, Fields, Reader};
use crate::duration::format_duration;
use crate::settings::Defaults;

/// The built-in `[defaults]`.
pub const BUILT_IN_DEFAULTS: Defaults = Defaults {
    report_every: Duration::from_secs(5),
    stale_after: Duration::from_secs(15),
    lease: Duration::from_secs(15),
};
/// `report_every`: positive, at most 1 hour.
pub const REPORT_EVERY_LIMITS: DurationLimits = DurationLimits::up_to(Duration::from_secs(3_600));
/// `stale_after`: positive, at most 24 hours.
pub const STALE_AFTER_LIMITS: DurationLimits = DurationLimits::up_to(Duration::from_secs(86_400));
/// `lease`: at least 1 second, at most 10 minutes.
pub const LEASE_LIMITS: DurationLimits = DurationLimits {
    min: Duration::from_secs(1),
    max: Duration::from_secs(600),
};

/// The three timing keys.
pub(super) const TIMING_KEYS: [&str; 3] = ["report_every", "stale_after", "lease"];

/// The span and field path of a value.
type Origin = Option<(Range<usize>, String)>;

/// Where each timing value was set in the table being read (`None` = inherited).
#[derive(Default)]
pub(super) struct TimingOrigin {
    report_every: Origin,
    stale_after: Origin,
    lease: Origin,
}

/// Reads the timing keys of `fields` over `inherited`.
pub(super) fn read_timing(
    reader: &mut Reader<'_>,
    fields: Fields<'_, '_>,
    inherited: Defaults,
) -> (Defaults, TimingOrigin) {
    let mut timing = inherited;
    let mut origin = TimingOrigin::default();
    let slots: [(&str, DurationLimits, &mut Duration, &mut Origin); 3] = [
        (
            "report_every",
            REPORT_EVERY_LIMITS,
            &mut timing.report_every,
            &mut origin.report_every,
        ),
        (
            "stale_after",
            STALE_AFTER_LIMITS,
            &mut timing.stale_after,
            &mut origin.stale_after,
        ),
        ("lease", LEASE_LIMITS, &mut timing.lease, &mut origin.lease),
    ];
    for (key, limits, slot, slot_origin) in slots {
        if let Some(value) = fields.get(key) {
            let field = fields.field(key);
            if let Some(duration) = reader.duration(value, &field, limits) {
                *slot = duration;
                *slot_origin = Some((value.span(), field));
            }
        }
    }
    (timing, origin)
}

/// Checks that `lease` and `stale_after` are not shorter than `report_every`.
///
/// A problem is reported only when one of the values involved was set in the table `origin`
/// describes, at the most specific of them, so a bad `[defaults]` is reported once and not once
/// per node.
pub(super) fn check_timing(reader: &mut Reader<'_>, timing: Defaults, origin: &TimingOrigin) {
    let report_every = format_duration(timing.report_every);
    if timing.lease < timing.report_every
        && let Some((span, field)) = origin.lease.as_ref().or(origin.report_every.as_ref())
    {
        reader.error(
            span,
            field,
            format!(
                "`lease` ({}) must be at least `report_every` ({report_every}), or every ON would lapse to OFF between two reports",
                format_duration(timing.lease)
            ),
        );
    }
    if timing.stale_after < timing.report_every
        && let Some((span, field)) = origin.stale_after.as_ref().or(origin.report_every.as_ref())
    {
        reader.error(
            span,
            field,
            format!(
                "`stale_after` ({}) must be at least `report_every` ({report_every}), or every reading would be stale before the next report",
                format_duration(timing.stale_after)
            ),
        );
    }
}
