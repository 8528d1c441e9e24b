//! Banner impressions and clicks per day: atomic `ADD`s on items without index keys, each
//! write on one of [`keys::BANNER_STAT_SHARDS`] random shard partitions
//! (`BANNERSTAT#<banner>#<shard>` / `<day>`), so a banner every storefront shows is not one hot
//! item. The details route sums the shards per day (8 queries, issued together).

use serde::Serialize;
use serde_json::Value;

use crate::store::{self, ItemStore, Query, SK, StoreResult, Update, keys};

/// Day counters are kept this long.
pub const RETENTION_SECS: i64 = 400 * 86_400;

/// One day's counts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DayCount {
    /// `yyyy-mm-dd` (UTC).
    pub date: String,
    pub impressions: i64,
    pub clicks: i64,
}

/// A banner's counts: totals, click rate in percent of impressions, and per day (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BannerStats {
    pub impressions: i64,
    pub clicks: i64,
    pub click_rate: f64,
    pub daily: Vec<DayCount>,
}

fn shard() -> u32 {
    rand::random::<u32>() % keys::BANNER_STAT_SHARDS
}

fn counter(what: &str, now: chrono::DateTime<chrono::Utc>) -> Update {
    Update::new()
        .add(what, 1)
        .set(store::EXPIRES_AT, now.timestamp() + RETENTION_SECS)
}

/// One impression for each of `banner_ids` (one write call for all).
pub async fn record_impressions(
    store: &dyn ItemStore,
    banner_ids: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    if banner_ids.is_empty() {
        return Ok(());
    }
    let day = now.date_naive();
    let updates = banner_ids
        .iter()
        .map(|id| {
            (
                keys::banner_stats(id, shard(), day),
                counter("impressions", now),
            )
        })
        .collect();
    store.update_many(updates).await
}

/// One click on `banner_id`.
pub async fn record_click(
    store: &dyn ItemStore,
    banner_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    store
        .update(
            &keys::banner_stats(banner_id, shard(), now.date_naive()),
            counter("clicks", now),
            None,
        )
        .await
        .map(|_| ())
}

/// The counts of `banner_id` (every day kept).
pub async fn stats(store: &dyn ItemStore, banner_id: &str) -> StoreResult<BannerStats> {
    let reads = (0..keys::BANNER_STAT_SHARDS)
        .map(|s| store::query_all(store, Query::table(keys::banner_stats_pk(banner_id, s))));
    let mut days: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    for items in futures::future::try_join_all(reads).await? {
        for item in items {
            let Some(day) = item.get(SK).and_then(Value::as_str) else {
                continue;
            };
            let n = |a: &str| item.get(a).and_then(Value::as_i64).unwrap_or(0);
            let e = days.entry(day.to_string()).or_default();
            e.0 += n("impressions");
            e.1 += n("clicks");
        }
    }
    let impressions = days.values().map(|d| d.0).sum::<i64>();
    let clicks = days.values().map(|d| d.1).sum::<i64>();
    let click_rate = if impressions > 0 {
        (clicks as f64 * 10_000.0 / impressions as f64).round() / 100.0
    } else {
        0.0
    };
    Ok(BannerStats {
        impressions,
        clicks,
        click_rate,
        daily: days
            .into_iter()
            .map(|(date, (impressions, clicks))| DayCount {
                date,
                impressions,
                clicks,
            })
            .collect(),
    })
}
