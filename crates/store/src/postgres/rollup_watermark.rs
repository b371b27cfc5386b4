//! The PostgreSQL hourly rollup's watermark: `meta.rollup_before`, the first hour (ms since
//! the epoch) whose readings are not rolled up yet.
//!
//! Updating the rollup in every write transaction cost a third of the writer's throughput (one
//! upserted row per series and hour for every group), so the writer keeps it differently:
//! - a reading at or after the watermark is stored raw only;
//! - a reading before it (a node's backlog, a replayed spool) is also added to its rollup row,
//!   in its own write transaction, as before;
//! - once an hour is past (the store's "now", the newest receive time, minus [`SLACK_MS`]), the
//!   writer rolls up the raw readings of every hour from the watermark to that one in one
//!   transaction that also moves the watermark ([`roll_up`]), while no other write is in flight.
//!
//! So the rollup always holds exactly the readings before the watermark and nothing after it,
//! and a query reads the rollup before the watermark and raw readings after it
//! ([`Plan::of`](crate::rollup::Plan::of)). A crash loses nothing: the roll-up and the
//! watermark commit together, and raw readings after the watermark are kept until they are
//! rolled up (the writer never expires them earlier).

use tokio_postgres::Client;

use super::database_error;
use super::statements::Statements;
use crate::rollup::floor_to;
use crate::{HOUR_MS, StoreError};

/// How long after an hour ends the writer waits before rolling it up, so the reports still on
/// their way for that hour are stored raw, not each added to the rollup on its own.
pub(crate) const SLACK_MS: i64 = 5 * 60 * 1000;

/// The watermark stored in `meta`; `None` for a database whose rollup is empty (nothing is
/// rolled up: every reading is read raw until the first roll-up).
pub(crate) async fn load(client: &Client) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt("SELECT value FROM meta WHERE key = 'rollup_before'", &[])
        .await
        .map_err(database_error("reading the rollup watermark"))?;
    Ok(row.map(|row| row.get(0)))
}

/// The watermark to move to when `newest_received_at_ms` is the store's "now": the start of
/// the newest hour that ended at least [`SLACK_MS`] ago, if later than `current`.
pub(crate) fn due(current: Option<i64>, newest_received_at_ms: i64) -> Option<i64> {
    let target = floor_to(newest_received_at_ms.saturating_sub(SLACK_MS), HOUR_MS);
    current
        .is_none_or(|current| target > current)
        .then_some(target)
}

/// Whether a reading at `at_ms` is before the watermark, so its write adds it to the rollup.
pub(crate) fn is_rolled_up(rolled_up_before: Option<i64>, at_ms: i64) -> bool {
    rolled_up_before.is_some_and(|before| at_ms < before)
}

/// Rolls up the raw readings from `from` (`None`: the oldest) to `to` and moves the watermark
/// to `to`, in one transaction on `client`, which must be outside a transaction and the only
/// one writing readings meanwhile.
pub(crate) async fn roll_up(
    client: &mut Client,
    statements: &Statements,
    from: Option<i64>,
    to: i64,
) -> Result<(), StoreError> {
    let transaction = client
        .transaction()
        .await
        .map_err(database_error("starting the roll-up"))?;
    let from = from.unwrap_or(i64::MIN);
    transaction
        .execute(&statements.roll_up_hours, &[&from, &to])
        .await
        .map_err(database_error("rolling up hours"))?;
    transaction
        .execute(&statements.set_rollup_before, &[&to])
        .await
        .map_err(database_error("moving the rollup watermark"))?;
    transaction
        .commit()
        .await
        .map_err(database_error("committing the roll-up"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_due_once_it_ended_slack_ago() {
        let h = HOUR_MS;
        assert_eq!(due(Some(10 * h), 11 * h + SLACK_MS - 1), None);
        assert_eq!(due(Some(10 * h), 11 * h + SLACK_MS), Some(11 * h));
        assert_eq!(
            due(Some(10 * h), 14 * h),
            Some(13 * h),
            "several hours at once"
        );
        assert_eq!(due(Some(20 * h), 14 * h), None, "never backwards");
        assert_eq!(
            due(None, 3 * h + SLACK_MS),
            Some(3 * h),
            "the first roll-up"
        );
        assert_eq!(due(None, 0), Some(-h), "before the epoch");
    }

    #[test]
    fn only_readings_before_the_watermark_are_added_to_the_rollup() {
        assert!(is_rolled_up(Some(HOUR_MS), HOUR_MS - 1));
        assert!(!is_rolled_up(Some(HOUR_MS), HOUR_MS));
        assert!(!is_rolled_up(None, i64::MIN));
    }
}
