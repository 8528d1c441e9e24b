//! Daily order rollups per segment (`SEGPERF#<segment>` / `<yyyy-mm-dd>#<shard>`): each order adds
//! its count and total to every segment its buyer is in at that moment (a cancel subtracts), so
//! the analytics and performance routes sum a few day items per segment instead of scanning
//! orders. Each write picks one of [`keys::SEGMENT_DAY_SHARDS`] shards of its day at random, so
//! the day of a segment most buyers are in is not one hot item; a window is still one query.
//! A member's orders before they joined are not in the rollup (membership is as of the order).

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde_json::Value;

use super::membership::SegmentRef;
use crate::store::{EXPIRES_AT, ItemStore, Query, SortKey, StoreResult, Update, keys, query_all};

/// How long day rollups are kept (windows go up to 365 days).
pub const RETENTION_SECS: i64 = 400 * 86_400;

/// Adds one order (`sign` 1) or withdraws it (-1) in each of `segments`, on the order's day.
pub async fn record_order(
    store: &dyn ItemStore,
    segments: &[SegmentRef],
    total_cents: i64,
    at: DateTime<Utc>,
    sign: i64,
) -> StoreResult<()> {
    let day = at.date_naive();
    let writes = segments.iter().map(|s| async move {
        store
            .update(
                &keys::segment_day(
                    &s.segment_id,
                    day,
                    rand::random_range(0..keys::SEGMENT_DAY_SHARDS),
                ),
                Update::new()
                    .add("orders", sign)
                    .add("revenue_cents", sign.saturating_mul(total_cents))
                    .set(EXPIRES_AT, at.timestamp() + RETENTION_SECS),
                None,
            )
            .await
    });
    futures::future::try_join_all(writes).await?;
    Ok(())
}

/// Orders and revenue (cents) of a segment's members over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub orders: i64,
    pub revenue_cents: i64,
}

/// The totals of the `days` days ending `today` (`None`: every day kept).
pub async fn totals(
    store: &dyn ItemStore,
    segment_id: &str,
    today: NaiveDate,
    days: Option<u32>,
) -> StoreResult<Totals> {
    let mut q = Query::table(keys::segment_days_pk(segment_id));
    if let Some(d) = days {
        // `<from>` sorts before `<from>#<shard>`: every shard of the first day is in.
        let from = today - Days::new(u64::from(d.saturating_sub(1)));
        q = q.sk(SortKey::Ge(from.format("%Y-%m-%d").to_string()));
    }
    let mut t = Totals::default();
    for item in query_all(store, q).await? {
        t.orders += item.get("orders").and_then(Value::as_i64).unwrap_or(0);
        t.revenue_cents += item
            .get("revenue_cents")
            .and_then(Value::as_i64)
            .unwrap_or(0);
    }
    t.orders = t.orders.max(0);
    t.revenue_cents = t.revenue_cents.max(0);
    Ok(t)
}
