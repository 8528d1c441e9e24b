//! Per-segment content engagement, kept on write: when the interaction log records a signal
//! ([`crate::domain::interactions::record`] calls [`record`]), the signal is added to daily
//! counters per (segment, content) and per content across segments, so the segment
//! recommendations and content performance routes read counters, never events or a scan.
//!
//! **Counted signals** (a content is a product; a shoppable video's likes, saves, shares and
//! views are recorded on its product by [`crate::domain::videos::interactions`], so a video's
//! engagement is its product's): `view` and `video_view` -> views, `search_click` and
//! `rec_click` -> clicks, `cart` -> add-to-carts, `purchase` -> purchases (negative counts
//! withdraw, as in the log). Other kinds are not counted. A signed-in actor's signal counts in
//! each of the actor's segments (the cached `user:{id}:segments` entry, computed and cached when
//! missing: [`super::segments::ids_for_recording`]) and for everyone (`_all`); a guest's only for
//! everyone.
//!
//! **Items** (all `ADD`s on items without index keys, `expires_at` [`ROLLUP_RETENTION_DAYS`]):
//! - `PERSOSEG#<segment>#<day>#<shard>` / `<content>`: the four counters of one segment, one
//!   update per segment of the actor (the segment recommendations query a segment's partitions);
//! - `PERSOCONT#<day>#<shard>` / `<content>`: `<segment>|<counter>` for each of the actor's
//!   segments and `_all`, in one update (content performance and everyone's figures for a
//!   segment's candidates are batch gets of these);
//! - `PERSOTOT#<day>` / `<shard>`: the weighted engagement per segment and `_all`, one update.
//!
//! Each signal picks one of [`keys::PERSO_SHARDS`] shards at random (as the recommendation
//! rollups do), so a content everyone views, or a day's totals, is never one hot item; readers
//! sum the shards. A signed-in signal costs one `GetItem` (the cached segments) and `n + 2`
//! `UpdateItem`s issued together (`n` segments); a guest's 2.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use crate::{
    domain::interactions::{Actor, InteractionKind, Signal},
    reco::personalization::Engagement,
    store::{
        EXPIRES_AT, Item, ItemStore, Key, Query, StoreResult, Update, batch_get_all, keys,
        query_all,
    },
};

/// The pseudo-segment of everyone.
pub const ALL: &str = "_all";
/// How long the daily counters are kept.
pub const ROLLUP_RETENTION_DAYS: i64 = 31;
/// Parallel reads.
const READ_CONCURRENCY: usize = 16;

const ATTR_CONTENT: &str = "content_id";
const COUNTERS: [&str; 4] = ["views", "clicks", "add_to_carts", "purchases"];

/// Which counter a kind moves (`None`: not counted).
fn counter_of(kind: InteractionKind) -> Option<usize> {
    match kind {
        InteractionKind::View | InteractionKind::VideoView => Some(0),
        InteractionKind::SearchClick | InteractionKind::RecClick => Some(1),
        InteractionKind::Cart => Some(2),
        InteractionKind::Purchase => Some(3),
        _ => None,
    }
}

fn engagement_of(counter: usize, n: i64) -> Engagement {
    let mut e = Engagement::default();
    match counter {
        0 => e.views = n,
        1 => e.clicks = n,
        2 => e.add_to_carts = n,
        _ => e.purchases = n,
    }
    e
}

fn read_engagement(item: &Item, prefix: &str) -> Engagement {
    let get = |c: &str| {
        item.get(&format!("{prefix}{c}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    Engagement {
        views: get(COUNTERS[0]),
        clicks: get(COUNTERS[1]),
        add_to_carts: get(COUNTERS[2]),
        purchases: get(COUNTERS[3]),
    }
}

fn random_shard() -> u32 {
    rand::random_range(0..keys::PERSO_SHARDS)
}

/// The updates of one counted signal for an actor in `segments`.
pub(super) fn writes(s: &Signal, counter: usize, segments: &[String]) -> Vec<(Key, Update)> {
    let day = s.at.date_naive();
    let expires = s.at.timestamp() + ROLLUP_RETENTION_DAYS * 86_400;
    let shard = random_shard();
    let name = COUNTERS.get(counter).copied().unwrap_or("views");
    let weighted = engagement_of(counter, s.count);
    let weighted =
        weighted.views + 2 * weighted.clicks + 3 * weighted.add_to_carts + 5 * weighted.purchases;
    let mut out: Vec<(Key, Update)> = segments
        .iter()
        .map(|seg| {
            (
                keys::perso_segment_content(seg, day, shard, &s.product_id),
                Update::new()
                    .add(name, s.count)
                    .set(ATTR_CONTENT, s.product_id.clone())
                    .set(EXPIRES_AT, expires),
            )
        })
        .collect();
    let mut content = Update::new()
        .add(format!("{ALL}|{name}"), s.count)
        .set(ATTR_CONTENT, s.product_id.clone())
        .set(EXPIRES_AT, expires);
    let mut totals = Update::new().add(ALL, weighted).set(EXPIRES_AT, expires);
    for seg in segments {
        content = content.add(format!("{seg}|{name}"), s.count);
        totals = totals.add(seg.clone(), weighted);
    }
    out.push((keys::perso_content(day, shard, &s.product_id), content));
    out.push((keys::perso_totals(day, shard), totals));
    out
}

/// The rollup updates of the counted ones of `signals` (one lookup of each signed-in actor's
/// segments).
async fn planned_writes(
    store: &dyn ItemStore,
    signals: &[Signal],
) -> StoreResult<Vec<(Key, Update)>> {
    let counted: Vec<(&Signal, usize)> = signals
        .iter()
        .filter(|s| s.count != 0)
        .filter_map(|s| Some((s, counter_of(s.kind)?)))
        .collect();
    if counted.is_empty() {
        return Ok(Vec::new());
    }
    let mut users: Vec<&str> = counted
        .iter()
        .filter_map(|(s, _)| match &s.actor {
            Actor::User(u) => Some(u.as_str()),
            Actor::Guest(_) => None,
        })
        .collect();
    users.sort_unstable();
    users.dedup();
    let lookups: Vec<_> = users
        .iter()
        .map(|u| super::segments::ids_for_recording(store, u))
        .collect();
    let found = futures::future::try_join_all(lookups).await?;
    let segments_of: HashMap<&str, Vec<String>> = users.into_iter().zip(found).collect();
    let none = Vec::new();
    Ok(counted
        .iter()
        .flat_map(|(s, counter)| {
            let segments = match &s.actor {
                Actor::User(u) => segments_of.get(u.as_str()).unwrap_or(&none),
                Actor::Guest(_) => &none,
            };
            writes(s, *counter, segments)
        })
        .collect())
}

/// Adds the counted ones of `signals` to the rollups (see the module docs).
pub async fn record(store: &dyn ItemStore, signals: &[Signal]) -> StoreResult<()> {
    let updates = planned_writes(store, signals).await?;
    futures::future::try_join_all(
        updates
            .into_iter()
            .map(|(key, update)| async move { store.update(&key, update, None).await.map(drop) }),
    )
    .await?;
    Ok(())
}

/// Signals planned and written together by [`record_bulk`].
const BULK_SIGNALS: usize = 2_000;

/// [`record`] for many signals at once (what [`crate::domain::interactions::record_bulk`]
/// calls: demo seeding, imports): the updates of up to [`BULK_SIGNALS`] signals that land on
/// the same item are merged into one (counters summed, the latest `expires_at` kept) and go out
/// through [`ItemStore::update_many`] (one write transaction in process). The counters end as
/// [`record`] leaves them.
pub async fn record_bulk(store: &dyn ItemStore, signals: &[Signal]) -> StoreResult<()> {
    for chunk in signals.chunks(BULK_SIGNALS) {
        let updates = coalesce(planned_writes(store, chunk).await?);
        if !updates.is_empty() {
            store.update_many(updates).await?;
        }
    }
    Ok(())
}

/// Merges the updates of one key, in first-seen key order: `ADD`s of an attribute summed,
/// `SET`s replaced, but `expires_at` kept at its latest.
fn coalesce(updates: Vec<(Key, Update)>) -> Vec<(Key, Update)> {
    let mut at: HashMap<Key, usize> = HashMap::new();
    let mut out: Vec<(Key, Update)> = Vec::new();
    for (key, u) in updates {
        let Some(&i) = at.get(&key) else {
            at.insert(key.clone(), out.len());
            out.push((key, u));
            continue;
        };
        let Some((_, acc)) = out.get_mut(i) else {
            continue;
        };
        for (attr, n) in u.add {
            match acc.add.iter_mut().find(|(a, _)| *a == attr) {
                Some((_, m)) => {
                    let sum = m.as_i64().unwrap_or(0) + n.as_i64().unwrap_or(0);
                    *m = sum.into();
                }
                None => acc.add.push((attr, n)),
            }
        }
        for (attr, v) in u.set {
            match acc.set.iter_mut().find(|(a, _)| *a == attr) {
                Some((_, old)) if attr == EXPIRES_AT => {
                    if v.as_i64() > old.as_i64() {
                        *old = v;
                    }
                }
                Some((_, old)) => *old = v,
                None => acc.set.push((attr, v)),
            }
        }
    }
    out
}

/// The `days` days ending with `today`, oldest first.
pub fn period(today: NaiveDate, days: u32) -> Vec<NaiveDate> {
    (0..i64::from(days))
        .rev()
        .map(|back| today - Duration::days(back))
        .collect()
}

/// A segment's engagement per content over `days` (its partitions of each day and shard,
/// queried with a projection, 16 at a time).
pub async fn segment_engagement(
    store: &dyn ItemStore,
    segment_id: &str,
    days: &[NaiveDate],
) -> StoreResult<HashMap<String, Engagement>> {
    let mut attrs = vec![ATTR_CONTENT];
    attrs.extend(COUNTERS);
    let reads: Vec<_> = days
        .iter()
        .flat_map(|&d| {
            (0..keys::PERSO_SHARDS)
                .map(move |shard| keys::perso_segment_content_pk(segment_id, d, shard))
        })
        .map(|pk| query_all(store, Query::table(pk).project(&attrs)))
        .collect();
    let pages: Vec<Vec<Item>> = stream::iter(reads)
        .buffer_unordered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let mut out: HashMap<String, Engagement> = HashMap::new();
    for item in pages.iter().flatten() {
        let Some(content) = item.get(ATTR_CONTENT).and_then(Value::as_str) else {
            continue;
        };
        out.entry(content.to_string())
            .or_default()
            .add(read_engagement(item, ""));
    }
    Ok(out)
}

/// Per content of `contents`, its engagement per segment (and `_all`) over `days` (batch gets
/// of the content items of each day and shard).
pub async fn content_engagement(
    store: &dyn ItemStore,
    contents: &[String],
    days: &[NaiveDate],
) -> StoreResult<HashMap<String, HashMap<String, Engagement>>> {
    let keys: Vec<Key> = contents
        .iter()
        .flat_map(|c| {
            days.iter().flat_map(move |&d| {
                (0..keys::PERSO_SHARDS).map(move |shard| keys::perso_content(d, shard, c))
            })
        })
        .collect();
    let mut out: HashMap<String, HashMap<String, Engagement>> = HashMap::new();
    for item in batch_get_all(store, &keys, READ_CONCURRENCY).await? {
        let Some(content) = item.get(ATTR_CONTENT).and_then(Value::as_str) else {
            continue;
        };
        let per_segment = out.entry(content.to_string()).or_default();
        for attr in item.keys() {
            let Some((segment, counter)) = attr.rsplit_once('|') else {
                continue;
            };
            let Some(i) = COUNTERS.iter().position(|c| *c == counter) else {
                continue;
            };
            let n = item.get(attr).and_then(Value::as_i64).unwrap_or(0);
            per_segment
                .entry(segment.to_string())
                .or_default()
                .add(engagement_of(i, n));
        }
    }
    Ok(out)
}

/// The weighted engagement per segment (and `_all`) over `days`.
pub async fn totals(
    store: &dyn ItemStore,
    days: &[NaiveDate],
) -> StoreResult<HashMap<String, i64>> {
    let keys: Vec<Key> = days
        .iter()
        .flat_map(|&d| (0..keys::PERSO_SHARDS).map(move |s| keys::perso_totals(d, s)))
        .collect();
    let mut out: HashMap<String, i64> = HashMap::new();
    for item in batch_get_all(store, &keys, READ_CONCURRENCY).await? {
        for (attr, v) in &item {
            if attr == crate::store::PK || attr == crate::store::SK || attr == EXPIRES_AT {
                continue;
            }
            if let Some(n) = v.as_i64() {
                *out.entry(attr.clone()).or_default() += n;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_the_four_counters() {
        assert_eq!(counter_of(InteractionKind::View), Some(0));
        assert_eq!(counter_of(InteractionKind::VideoView), Some(0));
        assert_eq!(counter_of(InteractionKind::RecClick), Some(1));
        assert_eq!(counter_of(InteractionKind::SearchClick), Some(1));
        assert_eq!(counter_of(InteractionKind::Cart), Some(2));
        assert_eq!(counter_of(InteractionKind::Purchase), Some(3));
        assert_eq!(counter_of(InteractionKind::Like), None);
        assert_eq!(counter_of(InteractionKind::NotInterested), None);
    }

    #[test]
    fn one_signal_writes_each_segment_row_one_content_item_and_the_totals() {
        let s = Signal::new(Actor::User("u".into()), "p1", InteractionKind::Purchase);
        let w = writes(&s, 3, &["25_34".into(), "power_user".into()]);
        assert_eq!(w.len(), 4);
        assert!(w[0].0.pk.starts_with("PERSOSEG#25_34#"));
        assert!(w[1].0.pk.starts_with("PERSOSEG#power_user#"));
        assert!(w[2].0.pk.starts_with("PERSOCONT#"));
        assert_eq!(w[2].0.sk, "p1");
        assert!(w[3].0.pk.starts_with("PERSOTOT#"));
    }

    #[test]
    fn coalescing_sums_the_adds_of_one_key_and_keeps_the_latest_expiry() {
        let k = |sk: &str| Key::new("PERSOTOT#2026-12-06#0", sk);
        let merged = coalesce(vec![
            (
                k("a"),
                Update::new()
                    .add("views", 2)
                    .set(EXPIRES_AT, 100)
                    .set("c", "x"),
            ),
            (k("b"), Update::new().add("views", 1)),
            (
                k("a"),
                Update::new()
                    .add("views", -1)
                    .add("clicks", 4)
                    .set(EXPIRES_AT, 90)
                    .set("c", "y"),
            ),
            (k("a"), Update::new().set(EXPIRES_AT, 120)),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].0, k("a"));
        let a = &merged[0].1;
        assert_eq!(
            a.add,
            vec![
                ("views".to_string(), 1.into()),
                ("clicks".to_string(), 4.into())
            ]
        );
        assert_eq!(
            a.set,
            vec![
                (EXPIRES_AT.to_string(), 120.into()),
                ("c".to_string(), "y".into())
            ]
        );
        assert_eq!(merged[1].1.add, vec![("views".to_string(), 1.into())]);
    }

    #[tokio::test]
    async fn bulk_recording_of_more_signals_than_a_chunk_counts_each_once() {
        let store = crate::store::local::LocalStore::in_memory().expect("store");
        let n = BULK_SIGNALS + 500;
        let signals: Vec<Signal> = (0..n)
            .map(|i| {
                Signal::new(
                    Actor::Guest(format!("g{}", i % 3)),
                    format!("p{}", i % 2),
                    InteractionKind::View,
                )
            })
            .collect();
        record_bulk(&store, &signals).await.expect("bulk");
        let days = period(chrono::Utc::now().date_naive(), 1);
        let content = content_engagement(&store, &["p0".into(), "p1".into()], &days)
            .await
            .expect("read");
        let all = |p: &str| content[p][ALL].views;
        assert_eq!((all("p0"), all("p1")), ((n / 2) as i64, (n / 2) as i64));
        assert_eq!(totals(&store, &days).await.expect("totals")[ALL], n as i64);
    }
}
