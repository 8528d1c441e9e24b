//! A per-instance cache of closed months' rollups (the 8 shards of a month item summed), so a
//! year's window decodes only the current month and the days at its ends on each request.
//!
//! A past month still changes: an order of that month cancelled now, an import, the rebuild.
//! So every write to a month item of a month that has ended (by the writer's clock) is followed,
//! after the month writes have landed, by an `ADD 1` on that month's version
//! (`ANAMONVER` / `ALL`, attribute `v_<yyyy-mm>`). A reader reads the versions first, then the
//! month: data read after version `v` is at least as new as `v`, and any later write bumps the
//! version after it, so a cached month is served only while no write has followed it.
//! Months that ended less than [`CLOSED_AFTER_DAYS`] days ago are never cached, which covers
//! writers whose clock is up to that much behind (they skip the bump for "their" current
//! month). The versions item also holds a random `epoch` set once per table, so two stores in
//! one process (tests) never share entries. The rebuild keeps the versions item and bumps every
//! month at its end. The cache is a [`MonthCache`] held in the analytics function's state (one
//! per instance). Hand-written: a map behind a mutex, bounded by emptying it when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{Duration, NaiveDate, Utc};
use serde_json::Value;

use super::window::month_end;
use crate::store::{
    Condition, EXPIRES_AT, Item, ItemStore, Key, PK, StoreError, StoreResult, Update,
    batch_get_all, keys,
};

/// Batch gets in flight at once when reading months.
const READ_CONCURRENCY: usize = 8;
/// A month is cached once it ended this many days before the reader's today.
pub const CLOSED_AFTER_DAYS: i64 = 2;
/// Entries kept (13 months x 2 kinds per table in use); emptied when full.
const ENTRIES: usize = 256;
const ATTR_EPOCH: &str = "epoch";

/// The summed counters of one month item (8 shards). foldhash, not SipHash: hashing the
/// attribute names was 12% of a dashboard (profile in tests/bench/README.md); the names are
/// the writers' own (counter names, catalogue and category ids).
pub type MonthCounters = foldhash::HashMap<String, i64>;

type Entry = (i64, Arc<MonthCounters>);

/// Quantity and revenue (cents) per product, the `q_<id>` / `r_<id>` counters of month items
/// parsed and summed.
pub type ProductSums = foldhash::HashMap<String, (i64, i64)>;

/// The months a product sum was computed from, and the sum.
type SumsEntry = (Vec<Arc<MonthCounters>>, Arc<ProductSums>);

/// Product sums kept (a few windows' worth).
const PRODUCT_SUMS: usize = 8;

/// One instance's closed months, keyed by the table's epoch and the month item's partition key
/// (and the days subtracted), and the product sums of sets of them.
#[derive(Default)]
pub struct MonthCache {
    entries: Mutex<HashMap<(String, String), Entry>>,
    /// The sums of a set of cached months: valid while the months are the same entries (the
    /// same `Arc`s: a version move replaces the entry).
    product_sums: Mutex<Vec<SumsEntry>>,
}

impl MonthCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Months held (tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The product sums of `parts` (closed months' counters as this cache gave them), computed
    /// by `sum` once per set of entries and then shared.
    pub fn product_sums(
        &self,
        parts: &[Arc<MonthCounters>],
        sum: impl FnOnce(&[Arc<MonthCounters>]) -> ProductSums,
    ) -> Arc<ProductSums> {
        let same = |held: &[Arc<MonthCounters>]| {
            held.len() == parts.len() && held.iter().zip(parts).all(|(a, b)| Arc::ptr_eq(a, b))
        };
        {
            let held = self
                .product_sums
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, sums)) = held.iter().find(|(p, _)| same(p)) {
                return sums.clone();
            }
        }
        let sums = Arc::new(sum(parts));
        let mut held = self
            .product_sums
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if held.len() >= PRODUCT_SUMS {
            held.remove(0);
        }
        held.push((parts.to_vec(), sums.clone()));
        sums
    }
}

fn version_attr(month: NaiveDate) -> String {
    format!("v_{}", month.format("%Y-%m"))
}

/// Whether a reader on `today` may cache `month`.
pub fn is_closed(month: NaiveDate, today: NaiveDate) -> bool {
    month_end(month) < today - Duration::days(CLOSED_AFTER_DAYS)
}

/// After writes to the month items of `months` (first days) have landed: bumps the version of
/// those that have ended by the writer's clock.
pub async fn bump_written(store: &dyn ItemStore, months: &[NaiveDate]) -> StoreResult<()> {
    let today = Utc::now().date_naive();
    let ended: Vec<NaiveDate> = months
        .iter()
        .copied()
        .filter(|m| month_end(*m) < today)
        .collect();
    bump(store, &ended).await
}

/// Bumps the version of every month of `months`.
pub async fn bump(store: &dyn ItemStore, months: &[NaiveDate]) -> StoreResult<()> {
    if months.is_empty() {
        return Ok(());
    }
    let mut update = Update::new();
    for m in months {
        update = update.add(version_attr(*m), 1);
    }
    store
        .update(&keys::analytics_month_versions(), update, None)
        .await
        .map(drop)
}

/// The versions item, with its epoch set (by this call when it had none).
async fn versions(store: &dyn ItemStore) -> StoreResult<Item> {
    let key = keys::analytics_month_versions();
    if let Some(item) = store.get(&key).await?
        && item.get(ATTR_EPOCH).is_some()
    {
        return Ok(item);
    }
    let epoch = uuid::Uuid::new_v4().to_string();
    match store
        .update(
            &key,
            Update::new().set(ATTR_EPOCH, epoch),
            Some(Condition::AttrNotExists(ATTR_EPOCH.into())),
        )
        .await
    {
        Ok(item) => Ok(item),
        Err(StoreError::ConditionFailed) => Ok(store.get(&key).await?.unwrap_or_default()),
        Err(e) => Err(e),
    }
}

fn sum_items(items: &[Item]) -> MonthCounters {
    let mut out = MonthCounters::default();
    for item in items {
        for (k, v) in item {
            if let Some(n) = v.as_i64()
                && k != EXPIRES_AT
            {
                match out.get_mut(k.as_str()) {
                    Some(x) => *x += n,
                    None => {
                        out.insert(k.clone(), n);
                    }
                }
            }
        }
    }
    out
}

/// Subtracts the counters of `items` (day items) from `into`.
fn subtract_items(into: &mut MonthCounters, items: &[Item]) {
    for (k, n) in sum_items(items) {
        match into.get_mut(k.as_str()) {
            Some(x) => *x -= n,
            None => {
                into.insert(k, -n);
            }
        }
    }
}

/// The summed counters of each month of `months` (first days), in that order, less the days of
/// `sub_days` that fall in it (the days of a month read whole that are outside the window, see
/// [`super::window`]): from the month items `month_key(month, shard)` and the day items
/// `day_key(day, shard)`. A closed month's net counters come from the cache while its version
/// has not moved: a write to one of its days is mirrored into the month and bumps the version
/// too, so the days subtracted are as current as the month.
pub async fn months(
    cache: &MonthCache,
    store: &dyn ItemStore,
    months: &[NaiveDate],
    sub_days: &[NaiveDate],
    today: NaiveDate,
    month_key: impl Fn(NaiveDate, u32) -> Key,
    day_key: impl Fn(NaiveDate, u32) -> Key,
) -> StoreResult<Vec<(NaiveDate, Arc<MonthCounters>)>> {
    let any_closed = months.iter().any(|m| is_closed(*m, today));
    let versions = if any_closed {
        Some(versions(store).await?)
    } else {
        None
    };
    let epoch = versions
        .as_ref()
        .and_then(|v| v.get(ATTR_EPOCH))
        .and_then(Value::as_str)
        .map(str::to_string);
    let days_of = |m: NaiveDate| -> Vec<NaiveDate> {
        sub_days
            .iter()
            .copied()
            .filter(|d| super::window::month_of(*d) == m)
            .collect()
    };
    let mut out: Vec<Option<Arc<MonthCounters>>> = vec![None; months.len()];
    // (index, month pk, cache key, version, days subtracted)
    let mut wanted: Vec<(usize, String, String, i64, Vec<NaiveDate>)> = Vec::new();
    for (i, m) in months.iter().enumerate() {
        let pk = month_key(*m, 0).pk;
        let subtracted = days_of(*m);
        // The entry is the month less these days: they are part of its key.
        let mut entry = pk.clone();
        for d in &subtracted {
            entry.push_str(&format!("|{}", d.format("%d")));
        }
        let version = versions
            .as_ref()
            .and_then(|v| v.get(&version_attr(*m)))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let (Some(epoch), true) = (&epoch, is_closed(*m, today))
            && let Some((v, counters)) = cache.lock().get(&(epoch.clone(), entry.clone()))
            && *v == version
        {
            out[i] = Some(counters.clone());
            continue;
        }
        wanted.push((i, pk, entry, version, subtracted));
    }
    if !wanted.is_empty() {
        let mut keys: Vec<Key> = Vec::new();
        for (i, _, _, _, subtracted) in &wanted {
            let m = months[*i];
            keys.extend((0..keys::ANALYTICS_SHARDS).map(|s| month_key(m, s)));
            for d in subtracted {
                keys.extend((0..keys::ANALYTICS_SHARDS).map(|s| day_key(*d, s)));
            }
        }
        let mut by_pk: HashMap<String, Vec<Item>> = HashMap::new();
        // Several batch gets at a time (a year's first read is ~30 of them).
        for item in batch_get_all(store, &keys, READ_CONCURRENCY).await? {
            if let Some(pk) = item.get(PK).and_then(Value::as_str) {
                by_pk.entry(pk.to_string()).or_default().push(item);
            }
        }
        let items_of = |pk: &str| by_pk.get(pk).map_or(&[][..], Vec::as_slice);
        for (i, pk, entry, version, subtracted) in wanted {
            let mut counters = sum_items(items_of(&pk));
            for d in subtracted {
                subtract_items(&mut counters, items_of(&day_key(d, 0).pk));
            }
            let counters = Arc::new(counters);
            if let (Some(epoch), true) = (&epoch, is_closed(months[i], today)) {
                let mut map = cache.lock();
                if map.len() >= ENTRIES {
                    map.clear();
                }
                map.insert((epoch.clone(), entry), (version, counters.clone()));
            }
            out[i] = Some(counters);
        }
    }
    Ok(months
        .iter()
        .zip(out)
        .map(|(m, c)| (*m, c.unwrap_or_default()))
        .collect())
}
