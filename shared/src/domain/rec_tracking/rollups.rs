//! The daily recommendation counters and their readers (the performance routes).
//!
//! Per day and family (`collaborative`, `content_based`, `hybrid`, `trending`, `fbt`) four
//! counters: impressions, the sum of the served scores (in millionths, so the atomic `ADD`s stay
//! exact integers), clicks and conversions. They are kept twice, both by atomic `ADD` on items
//! without index keys:
//! - per product (`RECPERF#<day>#<shard>` / `<product>`): for `top_performing_products`;
//! - per day (`RECDAY#<day>` / `<shard>`): totals and `performance_by_day` without reading the
//!   product items.
//!
//! Every write picks one of [`keys::REC_ROLLUP_SHARDS`] shards at random, so a product shown in
//! every list (trending) or the day's totals are never one hot item: a reader sums the shards.
//! Clicks and conversions are counted on the day the list was **served**, so a day's rates
//! compare like with like (a click never lands on a day without its impression).
//!
//! The day totals are mirrored into month totals (`RECMON#<month>` / `<shard>`, same shard,
//! same `ADD`s, in the same `update_many`), which the analytics dashboard and KPIs read for the
//! whole months of their window ([`totals_by_family`]). A closed month's totals come from the
//! analytics instance's [`MonthCache`]: a write to a month that has ended (a click on a list
//! served last month) bumps that month's version after it lands, as the analytics writers do.
//!
//! Read cost: totals and by-day are `8 x days` small items by batch get (parallel chunks of 100);
//! top products query the `8 x days` product partitions (with a projection, 16 at a time): the
//! cost grows with the number of distinct products recommended per day. Never a scan, never the
//! raw events.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::domain::analytics::month_cache::{self, MonthCache, MonthCounters};
use crate::domain::analytics::window;
use crate::reco::algorithm::Family;
use crate::store::batch_get_all;
use crate::store::{EXPIRES_AT, Item, ItemStore, Key, Query, StoreResult, Update, keys, query_all};

// The month cache reads a month's `ANALYTICS_SHARDS` shards: the recommendation totals must
// have as many.
const _: () = assert!(keys::REC_ROLLUP_SHARDS == keys::ANALYTICS_SHARDS);

/// How long the daily counters are kept (the route reads up to 365 days back).
pub const ROLLUP_RETENTION_DAYS: i64 = 400;

const ATTR_PRODUCT: &str = "product_id";
/// Parallel reads of the performance route.
const READ_CONCURRENCY: usize = 16;

/// One counter of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counter {
    Impressions,
    ScoreMicros,
    Clicks,
    Conversions,
}

impl Counter {
    const ALL: [Counter; 4] = [
        Counter::Impressions,
        Counter::ScoreMicros,
        Counter::Clicks,
        Counter::Conversions,
    ];

    fn suffix(self) -> &'static str {
        match self {
            Counter::Impressions => "impressions",
            Counter::ScoreMicros => "score_micros",
            Counter::Clicks => "clicks",
            Counter::Conversions => "conversions",
        }
    }
}

/// The attribute of a family's counter (`collaborative_clicks`).
pub(crate) fn attr(family: Family, counter: Counter) -> String {
    format!("{}_{}", family.name(), counter.suffix())
}

/// A score in millionths, clamped to [0, 1] (NaN counts as 0).
pub(crate) fn score_micros(score: f32) -> i64 {
    if score.is_nan() {
        return 0;
    }
    (f64::from(score.clamp(0.0, 1.0)) * 1_000_000.0).round() as i64
}

/// The counters of one family over some period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub impressions: i64,
    pub score_micros: i64,
    pub clicks: i64,
    pub conversions: i64,
}

impl Counts {
    /// The counters of `families` on an item, summed.
    fn of_families(item: &Item, families: &[Family]) -> Self {
        let mut total = Self::default();
        for &f in families {
            total.add(Self::of(item, f));
        }
        total
    }

    fn of(item: &Item, family: Family) -> Self {
        Self::read(|name| item.get(name).and_then(Value::as_i64), family)
    }

    /// The family's counters from summed month counters.
    fn of_month(counters: &MonthCounters, family: Family) -> Self {
        Self::read(|name| counters.get(name).copied(), family)
    }

    fn read(value: impl Fn(&str) -> Option<i64>, family: Family) -> Self {
        let get = |c| value(&attr(family, c)).unwrap_or(0);
        Self {
            impressions: get(Counter::Impressions),
            score_micros: get(Counter::ScoreMicros),
            clicks: get(Counter::Clicks),
            conversions: get(Counter::Conversions),
        }
    }

    /// `self - o` (a day taken out of a month).
    pub fn sub(&mut self, o: Counts) {
        self.impressions -= o.impressions;
        self.score_micros -= o.score_micros;
        self.clicks -= o.clicks;
        self.conversions -= o.conversions;
    }

    pub fn add(&mut self, o: Counts) {
        self.impressions += o.impressions;
        self.score_micros += o.score_micros;
        self.clicks += o.clicks;
        self.conversions += o.conversions;
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// Clicks per impression, in percent, one decimal (0 without impressions).
    pub fn click_rate(&self) -> f64 {
        percent(self.clicks, self.impressions)
    }

    /// Conversions per impression, in percent, one decimal (the spec's example: 425 of 5,000
    /// recommendations is 8.5).
    pub fn conversion_rate(&self) -> f64 {
        percent(self.conversions, self.impressions)
    }

    /// The mean served score, two decimals (0 without impressions).
    pub fn average_score(&self) -> f64 {
        if self.impressions <= 0 {
            return 0.0;
        }
        let mean = self.score_micros as f64 / 1_000_000.0 / self.impressions as f64;
        (mean * 100.0).round() / 100.0
    }
}

fn percent(n: i64, of: i64) -> f64 {
    if of <= 0 {
        return 0.0;
    }
    (n as f64 * 1000.0 / of as f64).round() / 10.0
}

/// The counter increments of one write: `(family, counter, by)`.
pub(crate) type Adds = Vec<(Family, Counter, i64)>;

fn update_of(adds: &Adds, day: NaiveDate) -> Update {
    expiring_update(adds, expiry_of(day))
}

fn expiring_update(adds: &Adds, expires: i64) -> Update {
    let mut update = Update::new().set(EXPIRES_AT, expires);
    for &(family, counter, by) in adds {
        update = update.add(attr(family, counter), by);
    }
    update
}

fn expiry_of(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
        + ROLLUP_RETENTION_DAYS * 24 * 3600
}

fn random_shard() -> u32 {
    rand::random_range(0..keys::REC_ROLLUP_SHARDS)
}

/// The writes adding `per_product` to the products' counters and `totals` to the day's, on one
/// random shard: one `UpdateItem` per product and one for the totals, issued together.
pub(crate) async fn add(
    store: &dyn ItemStore,
    day: NaiveDate,
    per_product: &[(String, Adds)],
    totals: &Adds,
) -> StoreResult<()> {
    let shard = random_shard();
    let mut updates: Vec<(Key, Update)> = per_product
        .iter()
        .map(|(product, adds)| {
            (
                keys::rec_product_rollup(day, shard, product),
                update_of(adds, day).set(ATTR_PRODUCT, product.clone()),
            )
        })
        .collect();
    if totals.is_empty() {
        return store.update_many(updates).await;
    }
    updates.push((keys::rec_day_totals(day, shard), update_of(totals, day)));
    // Mirrored into the month, on the same shard (see [`totals_by_family`]).
    let month = window::month_of(day);
    updates.push((
        keys::rec_month_totals(day, shard),
        expiring_update(totals, expiry_of(window::month_end(month))),
    ));
    store.update_many(updates).await?;
    // After the month write has landed: cached copies of an ended month are stale.
    month_cache::bump_written(store, &[month]).await
}

/// The `days` days ending with `today`, oldest first.
pub fn period(today: NaiveDate, days: u32) -> Vec<NaiveDate> {
    (0..i64::from(days))
        .rev()
        .map(|back| today - Duration::days(back))
        .collect()
}

/// Per day of the period (oldest first), the counters of `families` summed (zeros for days
/// without any).
pub async fn by_day(
    store: &dyn ItemStore,
    families: &[Family],
    today: NaiveDate,
    days: u32,
) -> StoreResult<Vec<(NaiveDate, Counts)>> {
    let dates = period(today, days);
    let keys: Vec<Key> = dates
        .iter()
        .flat_map(|&d| (0..keys::REC_ROLLUP_SHARDS).map(move |s| keys::rec_day_totals(d, s)))
        .collect();
    let mut per_day: HashMap<String, Counts> = HashMap::new();
    for item in batch_get_all(store, &keys, READ_CONCURRENCY).await? {
        let Some(pk) = item.get(crate::store::PK).and_then(Value::as_str) else {
            continue;
        };
        let day = pk.trim_start_matches("RECDAY#").to_string();
        per_day
            .entry(day)
            .or_default()
            .add(Counts::of_families(&item, families));
    }
    Ok(dates
        .into_iter()
        .map(|d| {
            let label = d.format("%Y-%m-%d").to_string();
            (d, per_day.get(&label).copied().unwrap_or_default())
        })
        .collect())
}

/// The counters of `families` summed over the period.
pub async fn totals(
    store: &dyn ItemStore,
    families: &[Family],
    today: NaiveDate,
    days: u32,
) -> StoreResult<Counts> {
    let mut total = Counts::default();
    for (_, c) in by_day(store, families, today, days).await? {
        total.add(c);
    }
    Ok(total)
}

/// The counters of every family summed over the period: whole months from the month totals
/// (less their days outside the period; closed months from `months`, the instance's cache),
/// the other days from the day totals (a [`window`] plan: 12 months and a few days for a year
/// instead of 365 days).
pub async fn totals_by_family(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<HashMap<Family, Counts>> {
    let plan = window::plan(today, days);
    let keys: Vec<Key> = plan
        .add_days
        .iter()
        .flat_map(|&d| (0..keys::REC_ROLLUP_SHARDS).map(move |s| keys::rec_day_totals(d, s)))
        .collect();
    let (month_sums, items) = futures::try_join!(
        month_cache::months(
            months,
            store,
            &plan.months,
            &plan.sub_days,
            today,
            keys::rec_month_totals,
            keys::rec_day_totals,
        ),
        batch_get_all(store, &keys, READ_CONCURRENCY),
    )?;
    let mut out: HashMap<Family, Counts> = HashMap::new();
    for family in Family::ALL {
        let total = out.entry(family).or_default();
        for (_, counters) in &month_sums {
            total.add(Counts::of_month(counters, family));
        }
        for item in &items {
            total.add(Counts::of(item, family));
        }
    }
    Ok(out)
}

/// Every product recommended under `families` in the period with its summed counters, best
/// first: most conversions, then clicks, then click rate, then impressions, then product id.
pub async fn by_product(
    store: &dyn ItemStore,
    families: &[Family],
    today: NaiveDate,
    days: u32,
) -> StoreResult<Vec<(String, Counts)>> {
    let mut attrs: Vec<String> = families
        .iter()
        .flat_map(|&f| Counter::ALL.iter().map(move |&c| attr(f, c)))
        .collect();
    attrs.push(ATTR_PRODUCT.to_string());
    let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
    let queries: Vec<Query> = period(today, days)
        .into_iter()
        .flat_map(|d| {
            (0..keys::REC_ROLLUP_SHARDS)
                .map(move |s| Query::table(keys::rec_product_rollup_pk(d, s)))
        })
        .map(|q| q.project(&attrs))
        .collect();
    let reads: Vec<_> = queries.into_iter().map(|q| query_all(store, q)).collect();
    let pages: Vec<Vec<Item>> = stream::iter(reads)
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut per_product: HashMap<String, Counts> = HashMap::new();
    for item in pages.iter().flatten() {
        let Some(product) = item.get(ATTR_PRODUCT).and_then(Value::as_str) else {
            continue;
        };
        let counts = Counts::of_families(item, families);
        if !counts.is_zero() {
            per_product
                .entry(product.to_string())
                .or_default()
                .add(counts);
        }
    }
    let mut out: Vec<(String, Counts)> = per_product.into_iter().collect();
    out.sort_by(|(pa, a), (pb, b)| {
        b.conversions
            .cmp(&a.conversions)
            .then(b.clicks.cmp(&a.clicks))
            .then(b.click_rate().total_cmp(&a.click_rate()))
            .then(b.impressions.cmp(&a.impressions))
            .then(pa.cmp(pb))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_percent_with_one_decimal_and_scores_two() {
        // The spec's example: 5,000 recommendations, 1,105 clicks, 425 conversions.
        let c = Counts {
            impressions: 5000,
            score_micros: 3_900_000_000,
            clicks: 1105,
            conversions: 425,
        };
        assert_eq!(c.click_rate(), 22.1);
        assert_eq!(c.conversion_rate(), 8.5);
        assert_eq!(c.average_score(), 0.78);
        assert_eq!(Counts::default().click_rate(), 0.0);
        assert_eq!(Counts::default().average_score(), 0.0);
        assert_eq!(score_micros(0.5), 500_000);
        assert_eq!(score_micros(1.7), 1_000_000);
        assert_eq!(score_micros(-1.0), 0);
        assert_eq!(score_micros(f32::NAN), 0);
    }

    #[test]
    fn the_period_ends_today_oldest_first() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
        let p = period(today, 3);
        assert_eq!(
            p.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            vec!["2026-02-27", "2026-02-28", "2026-03-01"]
        );
        assert_eq!(period(today, 1), vec![today]);
    }
}
