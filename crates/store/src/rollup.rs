//! The hourly rollup both engines keep beside the raw readings: one row per series and hour
//! with `samples, sum_value, min_value, max_value`, maintained by the writer: SQLite in the
//! same transaction as the raw insert, PostgreSQL for the hours before a watermark that it
//! moves forward once an hour (see `postgres/rollup_watermark.rs`). A readings query whose
//! `step` is a whole number of hours reads the rollup for the whole hours of its range that
//! are rolled up, and the raw readings for the others: the partial hours at its ends and the
//! hours after the watermark ([`Plan`]); the parts are merged per bucket ([`merge`]), so the answer
//! equals the raw average within float rounding. A shorter step over hours whose raw readings
//! retention already deleted gets those hours' averages instead ([`expired_hours`]).

use std::collections::BTreeMap;

use crate::{HOUR_MS, Point, ReadingsQuery};

/// Floor of `ts` to a multiple of `width` (negative times included).
pub(crate) fn floor_to(ts: i64, width: i64) -> i64 {
    ts - ts.rem_euclid(width)
}

/// One rollup row's aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Aggregate {
    pub(crate) samples: i64,
    pub(crate) sum: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

/// Readings of one write summed per `(series_id, hour)`, so each rollup row is upserted once.
#[derive(Debug, Default)]
pub(crate) struct HourlyAggregates(BTreeMap<(i64, i64), Aggregate>);

impl HourlyAggregates {
    /// Adds one reading of `series_id`.
    pub(crate) fn add(&mut self, series_id: i64, ts: i64, value: f64) {
        self.0
            .entry((series_id, floor_to(ts, HOUR_MS)))
            .and_modify(|aggregate| {
                aggregate.samples += 1;
                aggregate.sum += value;
                aggregate.min = aggregate.min.min(value);
                aggregate.max = aggregate.max.max(value);
            })
            .or_insert(Aggregate {
                samples: 1,
                sum: value,
                min: value,
                max: value,
            });
    }

    /// `((series_id, hour), aggregate)` in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&(i64, i64), &Aggregate)> {
        self.0.iter()
    }
}

/// The `rolled_up_before` of [`Plan::of`] for a rollup that holds every hour.
pub(crate) const EVERY_HOUR: i64 = i64::MAX;

/// How a bucketed query is split between the rollup and the raw readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The whole hours `[from, to)` answered from the rollup.
    pub(crate) hourly: (i64, i64),
    /// The partial hours at the ends, answered from raw readings (empty ranges left out).
    pub(crate) raw: Vec<(i64, i64)>,
    /// The bucket width.
    pub(crate) step: i64,
}

impl Plan {
    /// The plan of `query` for a rollup that holds every hour starting before
    /// `rolled_up_before` (a whole hour; [`EVERY_HOUR`] when it holds them all, as in SQLite),
    /// or `None` when the rollup cannot answer it: no step, a step that is not a whole number of
    /// hours, or a range without a whole hour that is rolled up. The whole hours at or after
    /// `rolled_up_before` are read raw with the partial hour at the end.
    pub(crate) fn of(query: &ReadingsQuery, rolled_up_before: i64) -> Option<Plan> {
        let step = query.step_ms?;
        if step < HOUR_MS || step % HOUR_MS != 0 {
            return None;
        }
        let first_whole = floor_to(query.from_ms, HOUR_MS)
            + if query.from_ms.rem_euclid(HOUR_MS) == 0 {
                0
            } else {
                HOUR_MS
            };
        let end_whole = floor_to(query.to_ms, HOUR_MS).min(rolled_up_before);
        if first_whole >= end_whole {
            return None;
        }
        let raw = [(query.from_ms, first_whole), (end_whole, query.to_ms)]
            .into_iter()
            .filter(|(from, to)| from < to)
            .collect();
        Some(Plan {
            hourly: (first_whole, end_whole),
            raw,
            step,
        })
    }
}

/// The whole hours of a bucketed query's `[from, to)` whose raw readings retention may have
/// deleted: those before the hour of the oldest raw point answered (`first_raw`), or every
/// whole hour of the range when there is none. Retention deletes raw readings from the old end
/// only, so no hour after the oldest remaining point can be missing. `None` when there is no
/// such hour (the common case: the raw answer starts in the range's first hour).
pub(crate) fn expired_hours(from: i64, to: i64, first_raw: Option<i64>) -> Option<(i64, i64)> {
    let first_whole = floor_to(from, HOUR_MS)
        + if from.rem_euclid(HOUR_MS) == 0 {
            0
        } else {
            HOUR_MS
        };
    let end = floor_to(first_raw.map_or(to, |first| first.min(to)), HOUR_MS);
    (first_whole < end).then_some((first_whole, end))
}

/// The answer of a bucketed query with expired hours: each expired hour's average (labelled
/// with the hour's start), then the raw buckets, the oldest `limit` points.
pub(crate) fn with_expired_hours(hourly: Vec<Point>, raw: Vec<Point>, limit: usize) -> Vec<Point> {
    hourly.into_iter().chain(raw).take(limit).collect()
}

/// One bucket of a part of the answer: `(bucket start, sum of values, number of values)`.
pub(crate) type PartialBucket = (i64, f64, i64);

/// Merges the parts' buckets and averages them: the oldest `limit` points.
pub(crate) fn merge(parts: impl IntoIterator<Item = PartialBucket>, limit: usize) -> Vec<Point> {
    let mut buckets: BTreeMap<i64, (f64, i64)> = BTreeMap::new();
    for (bucket, sum, count) in parts {
        let entry = buckets.entry(bucket).or_insert((0.0, 0));
        entry.0 += sum;
        entry.1 += count;
    }
    buckets
        .into_iter()
        .filter(|(_, (_, count))| *count > 0)
        .take(limit)
        .map(|(bucket, (sum, count))| (bucket, sum / count as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from_ms: i64, to_ms: i64, step_ms: Option<i64>) -> ReadingsQuery {
        ReadingsQuery {
            node: "n".to_owned(),
            sensor: "s".to_owned(),
            from_ms,
            to_ms,
            step_ms,
            limit: 10,
        }
    }

    #[test]
    fn plan_reads_whole_hours_from_the_rollup_and_the_ends_raw() {
        let plan = Plan::of(
            &query(-30 * 60_000, 3 * HOUR_MS + 5, Some(2 * HOUR_MS)),
            EVERY_HOUR,
        );
        assert_eq!(
            plan,
            Some(Plan {
                hourly: (0, 3 * HOUR_MS),
                raw: vec![(-30 * 60_000, 0), (3 * HOUR_MS, 3 * HOUR_MS + 5)],
                step: 2 * HOUR_MS,
            })
        );
        let aligned = Plan::of(&query(HOUR_MS, 5 * HOUR_MS, Some(HOUR_MS)), EVERY_HOUR);
        assert_eq!(aligned.map(|plan| plan.raw), Some(vec![]));
    }

    #[test]
    fn plan_reads_the_hours_not_rolled_up_yet_raw() {
        let plan = Plan::of(&query(0, 5 * HOUR_MS + 5, Some(HOUR_MS)), 3 * HOUR_MS);
        assert_eq!(
            plan,
            Some(Plan {
                hourly: (0, 3 * HOUR_MS),
                raw: vec![(3 * HOUR_MS, 5 * HOUR_MS + 5)],
                step: HOUR_MS,
            })
        );
        assert_eq!(
            Plan::of(&query(HOUR_MS, 5 * HOUR_MS, Some(HOUR_MS)), HOUR_MS),
            None,
            "nothing of the range rolled up"
        );
        assert_eq!(
            Plan::of(&query(HOUR_MS, 5 * HOUR_MS, Some(HOUR_MS)), i64::MIN),
            None,
            "an empty rollup"
        );
    }

    #[test]
    fn plan_refuses_steps_that_are_not_whole_hours_and_ranges_without_a_whole_hour() {
        assert_eq!(Plan::of(&query(0, 10 * HOUR_MS, None), EVERY_HOUR), None);
        assert_eq!(
            Plan::of(&query(0, 10 * HOUR_MS, Some(90 * 60_000)), EVERY_HOUR),
            None
        );
        assert_eq!(
            Plan::of(&query(0, 10 * HOUR_MS, Some(60_000)), EVERY_HOUR),
            None
        );
        assert_eq!(
            Plan::of(&query(1, HOUR_MS + 1, Some(HOUR_MS)), EVERY_HOUR),
            None
        );
    }

    #[test]
    fn expired_hours_are_the_whole_hours_before_the_oldest_raw_point() {
        let h = HOUR_MS;
        assert_eq!(expired_hours(0, 10 * h, Some(3 * h + 5)), Some((0, 3 * h)));
        assert_eq!(expired_hours(h / 2, 10 * h, None), Some((h, 10 * h)));
        assert_eq!(expired_hours(h / 2, 10 * h + 1, None), Some((h, 10 * h)));
        assert_eq!(
            expired_hours(0, 10 * h, Some(5)),
            None,
            "raw from the start"
        );
        assert_eq!(
            expired_hours(h / 2, 10 * h, Some(h / 2)),
            None,
            "raw in the partial first hour"
        );
        assert_eq!(
            expired_hours(-h / 2, 10 * h, Some(-h)),
            None,
            "a first bucket starting before the range"
        );
        assert_eq!(expired_hours(-2 * h, h, None), Some((-2 * h, h)));
        assert_eq!(
            with_expired_hours(vec![(0, 1.0), (h, 2.0)], vec![(2 * h, 3.0)], 2),
            vec![(0, 1.0), (h, 2.0)]
        );
    }

    #[test]
    fn merge_sums_parts_per_bucket_and_keeps_the_oldest() {
        let points = merge([(10, 3.0, 1), (0, 1.0, 1), (10, 5.0, 3), (20, 2.0, 1)], 2);
        assert_eq!(points, vec![(0, 1.0), (10, 2.0)]);
    }
}
