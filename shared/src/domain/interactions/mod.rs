//! The interaction log: every signal of a shopper (or a guest cart) on a product, as the
//! recommendation models and analytics read it.
//!
//! One signal ([`Signal`]) makes three independent writes, issued concurrently (so recording
//! costs one store round trip of latency, not three):
//! - the **aggregate** of the (user, product) pair: per-kind counts by atomic `ADD` and the time
//!   of the latest interaction (`INTERACT#<shard>` / `<actor>#<product>`, sharded by actor so a
//!   user's history is one `begins_with` query, and training pages through the
//!   [`keys::INTERACTION_SHARDS`] partitions in parallel with a projection, never a table scan);
//! - the product's **hourly activity** (`PRODACT#<hour>#<shard>` / `<product>`, per-kind counts
//!   by `ADD`, kept 8 days) for trending and rollups;
//! - the **raw event** (`EVENT#<day>#<shard>` / `<millis>#<uuid>`, kept 90 days, `expires_at`)
//!   for analytics.
//!
//! The same call also adds the signal to the spec 000 per-segment engagement rollups
//! ([`crate::domain::personalization::rollups::record`], concurrently with the three writes).
//!
//! None of these items has index keys (hot counters never do: see [`keys`]). Counts may be
//! negative: a cancelled order withdraws its purchases, an unlike its like; weights are applied
//! when reading ([`KindWeights`], from the active `interactions` config), so changing a weight
//! re-weighs the whole history at the next training.
//!
//! Why in the request rather than from a DynamoDB stream: the three writes are independent
//! `UpdateItem`/`PutItem` calls issued together, after the shopper's own write succeeded and
//! concurrently with what is left of the request (product detail: with the category read, the
//! view counter and the viewed-history write; a like: with the re-read of the counts), so on
//! DynamoDB they add at most one round trip (~5-10 ms) and none where other work remains; a
//! stream consumer would add a Lambda, an event source mapping, and seconds of lag before fold-in
//! sees a new interaction, and the local server would need a second code path to mimic it.
//! Recording never fails the request ([`record_logged`]) and is switched by
//! `RECORD_INTERACTIONS` ([`record_if`]).
//!
//! Measured (2026-12-06, `tests/bench/load.sh` scenarios `detail` and `cartadd`, wrk -t2 -c4
//! -d10s, run alternately with `RECORD_INTERACTIONS=false` and `true`, two pairs): a **debug**
//! build of `local` with the in-memory store, on a 2-core machine at load average 9-14 from
//! other builds (a release build did not fit the time), so the figures are noisy and only the
//! comparison within the session means something. Signed-in product detail p50/p99: off 34.9 /
//! 92.0 ms and 17.9 / 53.7 ms, on 44.0 / 299.4 ms and 37.9 / 118.6 ms; guest cart add: off 16.9 /
//! 104.6 ms and 9.3 / 57.5 ms, on 37.3 / 126.3 ms and 39.0 / 118.7 ms. Locally the store runs
//! in process, so the three writes cost CPU (three more redb write transactions with JSON
//! encoding, unoptimised in a debug build) rather than waiting, and on two busy cores that shows
//! as roughly +10-20 ms on detail and +20-30 ms on the cart add at p50; against DynamoDB the
//! same writes are network round trips issued in parallel. Command in `tests/bench/README.md`.
//!
//! Again with a **release** build (2026-12-06, 17:36 UTC, idle machine, same scenarios, 10,000
//! products, wrk -t2 -c16 -d10s, two pairs run alternately): signed-in product detail p50/p99
//! off 3.66 / 10.42 ms and 3.33 / 8.26 ms, on 6.40 / 12.40 ms and 6.53 / 14.43 ms; guest cart
//! add off 2.54 / 8.48 ms and 2.35 / 7.88 ms, on 5.76 / 15.08 ms and 5.50 / 12.16 ms. So about
//! +3 ms at p50 and +2-7 ms at p99 on the in-process store, where the three writes are three more
//! redb write transactions on the same two cores (throughput 4,300-4,700 -> 2,400-2,500 detail
//! requests/s).

mod guest;
pub mod kinds;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use serde_json::Value;

use crate::reco::data::Interaction;
use crate::store::{
    EXPIRES_AT, Item, ItemStore, Key, PK, Query, SK, StoreResult, TxOp, Update, keys, query_all,
};

pub use guest::merge_guest;
pub use kinds::{InteractionKind, KindWeights};

/// How long raw events are kept (analytics reads them; training reads the aggregates).
pub const EVENT_RETENTION_SECS: i64 = 90 * 24 * 3600;
/// How long hourly product activity is kept.
pub const ACTIVITY_RETENTION_SECS: i64 = crate::domain::stats::HOURLY_RETENTION_SECS;

/// Who interacted: a signed-in user or a guest cart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    User(String),
    Guest(String),
}

impl Actor {
    /// The actor's id in the log and in training data: the user id, or `guest:<cart id>`.
    pub fn log_id(&self) -> String {
        match self {
            Actor::User(id) => id.clone(),
            Actor::Guest(cart) => format!("guest:{cart}"),
        }
    }

    /// The actor of a request: the signed-in user; else the guest cart named by `guest_cart_id`
    /// (the `X-Cart-Id` header the cart function hands out: a UUID, normalised as the cart
    /// stores it, so a guest's views and cart adds share one id); else `None`: an anonymous
    /// request is not recorded (a malformed cart id neither).
    pub fn of_request(user_id: Option<&str>, guest_cart_id: Option<&str>) -> Option<Self> {
        if let Some(user) = user_id {
            return Some(Actor::User(user.to_string()));
        }
        guest_cart_id
            .and_then(|s| uuid::Uuid::parse_str(s.trim()).ok())
            .map(|u| Actor::Guest(u.to_string()))
    }

    /// Parses [`Actor::log_id`].
    pub fn from_log_id(id: &str) -> Self {
        match id.strip_prefix("guest:") {
            Some(cart) => Actor::Guest(cart.to_string()),
            None => Actor::User(id.to_string()),
        }
    }
}

/// One interaction to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub actor: Actor,
    pub product_id: String,
    pub kind: InteractionKind,
    /// Usually 1; negative withdraws (a cancelled order line, an unlike).
    pub count: i64,
    pub at: DateTime<Utc>,
}

impl Signal {
    pub fn new(actor: Actor, product_id: impl Into<String>, kind: InteractionKind) -> Self {
        Self {
            actor,
            product_id: product_id.into(),
            kind,
            count: 1,
            at: Utc::now(),
        }
    }

    pub fn count(mut self, count: i64) -> Self {
        self.count = count;
        self
    }

    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = at;
        self
    }
}

const ATTR_ACTOR: &str = "actor";
const ATTR_PRODUCT: &str = "product_id";
const ATTR_LAST_AT: &str = "last_at";

fn aggregate_write(s: &Signal) -> (Key, Update) {
    let actor = s.actor.log_id();
    let mut update = Update::new()
        .add(s.kind.name(), s.count)
        .set(ATTR_ACTOR, actor.clone())
        .set(ATTR_PRODUCT, s.product_id.clone());
    if s.count > 0 {
        update = update.set(ATTR_LAST_AT, s.at.timestamp());
    }
    (keys::interaction(&actor, &s.product_id), update)
}

fn activity_write(s: &Signal) -> (Key, Update) {
    let update = Update::new()
        .add(s.kind.name(), s.count)
        .set(ATTR_PRODUCT, s.product_id.clone())
        .set(EXPIRES_AT, s.at.timestamp() + ACTIVITY_RETENTION_SECS);
    (keys::product_activity(s.at, &s.product_id), update)
}

fn event_item(s: &Signal) -> Item {
    let key = keys::interaction_event(s.at, &s.actor.log_id(), &uuid::Uuid::new_v4().to_string());
    let mut item = Item::new();
    item.insert(PK.into(), Value::from(key.pk));
    item.insert(SK.into(), Value::from(key.sk));
    item.insert(ATTR_ACTOR.into(), Value::from(s.actor.log_id()));
    item.insert(ATTR_PRODUCT.into(), Value::from(s.product_id.clone()));
    item.insert("kind".into(), Value::from(s.kind.name()));
    item.insert("count".into(), Value::from(s.count));
    item.insert("at".into(), Value::from(s.at.timestamp_millis()));
    item.insert(
        EXPIRES_AT.into(),
        Value::from(s.at.timestamp() + EVENT_RETENTION_SECS),
    );
    item
}

/// Records `signals`: all their writes at once (see the module docs). Signals with a zero count
/// are skipped.
pub async fn record(store: &dyn ItemStore, signals: &[Signal]) -> StoreResult<()> {
    let mut updates = Vec::with_capacity(signals.len() * 2);
    let mut puts = Vec::with_capacity(signals.len());
    for s in signals.iter().filter(|s| s.count != 0) {
        updates.push(aggregate_write(s));
        updates.push(activity_write(s));
        puts.push(event_item(s));
    }
    let updates = try_join_all(
        updates
            .iter()
            .map(|(key, update)| store.update(key, update.clone(), None)),
    );
    let puts = try_join_all(puts.into_iter().map(|item| store.put(item, None)));
    let features = crate::domain::segments::features::record_signals(store, signals);
    let engagement = crate::domain::personalization::rollups::record(store, signals);
    futures::try_join!(updates, puts, features, engagement)?;
    Ok(())
}

/// [`record`], logging a failure instead of returning it: for request paths where the
/// shopper's own write has already succeeded and must not fail because the log did.
pub async fn record_logged(store: &dyn ItemStore, signals: &[Signal]) {
    if let Err(e) = record(store, signals).await {
        tracing::warn!(error = %e, signals = signals.len(), "recording interactions failed");
    }
}

/// Items a [`record_bulk`] transaction writes (DynamoDB's limit per transaction).
const BULK_TX_ITEMS: usize = 100;

/// [`record`] for many signals at once (demo seeding, imports; never a request path): the
/// signals of one (actor, product) pair, and of one product and hour, are coalesced into one
/// write each (per-kind counts summed, `last_at` the latest positive signal), and the writes go
/// out in transactions of up to 100 items, one after the other, so an in-process store commits
/// once per hundred items instead of once per write (DynamoDB bills a transactional write
/// twice: acceptable for a one-off load). Raw events are written one per signal, as by
/// [`record`]. The segment features and the spec 000 engagement rollups are fed as by [`record`]
/// (the rollups coalesced too: [`crate::domain::personalization::rollups::record_bulk`]). A
/// transaction that fails leaves the ones before it written.
pub async fn record_bulk(store: &dyn ItemStore, signals: &[Signal]) -> StoreResult<()> {
    use std::collections::BTreeMap;
    type Counts = BTreeMap<&'static str, i64>;
    let mut pairs: BTreeMap<Key, (Counts, Option<i64>, &Signal)> = BTreeMap::new();
    let mut buckets: BTreeMap<Key, (Counts, i64, &Signal)> = BTreeMap::new();
    let mut ops = Vec::new();
    for s in signals.iter().filter(|s| s.count != 0) {
        let (key, _) = aggregate_write(s);
        let pair = pairs.entry(key).or_insert_with(|| (Counts::new(), None, s));
        *pair.0.entry(s.kind.name()).or_default() += s.count;
        if s.count > 0 {
            pair.1 = pair.1.max(Some(s.at.timestamp()));
        }
        let (key, _) = activity_write(s);
        let bucket = buckets
            .entry(key)
            .or_insert_with(|| (Counts::new(), s.at.timestamp(), s));
        *bucket.0.entry(s.kind.name()).or_default() += s.count;
        bucket.1 = bucket.1.max(s.at.timestamp());
        ops.push(TxOp::Put {
            item: event_item(s),
            condition: None,
        });
    }
    for (key, (counts, last_at, s)) in pairs {
        let mut update = Update::new()
            .set(ATTR_ACTOR, s.actor.log_id())
            .set(ATTR_PRODUCT, s.product_id.clone());
        for (kind, n) in counts {
            update = update.add(kind, n);
        }
        if let Some(at) = last_at {
            update = update.set(ATTR_LAST_AT, at);
        }
        ops.push(TxOp::Update {
            key,
            update,
            condition: None,
        });
    }
    for (key, (counts, latest, s)) in buckets {
        let mut update = Update::new()
            .set(ATTR_PRODUCT, s.product_id.clone())
            .set(EXPIRES_AT, latest + ACTIVITY_RETENTION_SECS);
        for (kind, n) in counts {
            update = update.add(kind, n);
        }
        ops.push(TxOp::Update {
            key,
            update,
            condition: None,
        });
    }
    let mut rest = ops.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<TxOp> = rest.by_ref().take(BULK_TX_ITEMS).collect();
        store.transact(chunk).await?;
    }
    crate::domain::segments::features::record_signals(store, signals).await?;
    crate::domain::personalization::rollups::record_bulk(store, signals).await
}

/// [`record_logged`] when `enabled` (the `RECORD_INTERACTIONS` switch, `Config::record_interactions`),
/// nothing otherwise: what request handlers call, concurrently with the rest of their work.
pub async fn record_if(enabled: bool, store: &dyn ItemStore, signals: &[Signal]) {
    if enabled && !signals.is_empty() {
        record_logged(store, signals).await;
    }
}

/// The per-kind counts of an aggregate or activity item.
fn counts_of(item: &Item) -> Vec<(InteractionKind, i64)> {
    InteractionKind::ALL
        .into_iter()
        .filter_map(|k| item.get(k.name()).and_then(Value::as_i64).map(|n| (k, n)))
        .collect()
}

/// One (actor, product) aggregate as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct PairAggregate {
    pub actor: String,
    pub product_id: String,
    pub counts: Vec<(InteractionKind, i64)>,
    /// Epoch seconds of the latest positive interaction (0 when unknown).
    pub last_at: i64,
}

impl PairAggregate {
    fn from_item(item: &Item) -> Option<Self> {
        Some(Self {
            actor: item.get(ATTR_ACTOR)?.as_str()?.to_string(),
            product_id: item.get(ATTR_PRODUCT)?.as_str()?.to_string(),
            counts: counts_of(item),
            last_at: item.get(ATTR_LAST_AT).and_then(Value::as_i64).unwrap_or(0),
        })
    }

    /// "Not interested" was said (and not withdrawn).
    pub fn not_interested(&self) -> bool {
        self.counts
            .iter()
            .any(|&(k, n)| k == InteractionKind::NotInterested && n > 0)
    }

    /// As a training interaction: `None` when the weighted sum is not positive or the user said
    /// "not interested".
    pub fn to_interaction(&self, weights: &KindWeights) -> Option<Interaction> {
        if self.not_interested() {
            return None;
        }
        let weight = weights.weigh(&self.counts);
        (weight > 0.0).then(|| Interaction {
            user: self.actor.clone(),
            item: self.product_id.clone(),
            weight,
            timestamp: self.last_at,
        })
    }
}

fn projection() -> Vec<&'static str> {
    let mut attrs = vec![ATTR_ACTOR, ATTR_PRODUCT, ATTR_LAST_AT];
    attrs.extend(InteractionKind::ALL.iter().map(|k| k.name()));
    attrs
}

/// Every aggregate of one actor (a `begins_with` query on the actor's shard).
pub async fn actor_aggregates(
    store: &dyn ItemStore,
    actor: &Actor,
) -> StoreResult<Vec<PairAggregate>> {
    let id = actor.log_id();
    let query = Query::table(keys::interaction_shard_pk(keys::interaction_shard(&id)))
        .begins_with(keys::interaction_sk_prefix(&id))
        .project(&projection());
    let items = query_all(store, query).await?;
    Ok(items.iter().filter_map(PairAggregate::from_item).collect())
}

/// An actor's weighted history: `(product id, weight)` pairs with a positive weight, most recent
/// first, and the products they said "not interested" to (never recommend those).
pub async fn actor_history(
    store: &dyn ItemStore,
    actor: &Actor,
    weights: &KindWeights,
) -> StoreResult<(Vec<(String, f32)>, Vec<String>)> {
    let mut aggregates = actor_aggregates(store, actor).await?;
    aggregates.sort_by(|a, b| {
        b.last_at
            .cmp(&a.last_at)
            .then(a.product_id.cmp(&b.product_id))
    });
    let mut history = Vec::new();
    let mut excluded = Vec::new();
    for a in &aggregates {
        if a.not_interested() {
            excluded.push(a.product_id.clone());
        } else if let Some(it) = a.to_interaction(weights) {
            history.push((it.item, it.weight));
        }
    }
    Ok((history, excluded))
}

/// Every aggregate of every actor: the shards are read concurrently, each page by page with a
/// projection. For the training job (never a request path).
pub async fn all_aggregates(store: &dyn ItemStore) -> StoreResult<Vec<PairAggregate>> {
    let attrs = projection();
    let shards = (0..keys::INTERACTION_SHARDS).map(|shard| {
        let query = Query::table(keys::interaction_shard_pk(shard)).project(&attrs);
        async move { query_all(store, query).await }
    });
    let pages = try_join_all(shards).await?;
    Ok(pages
        .iter()
        .flatten()
        .filter_map(PairAggregate::from_item)
        .collect())
}

/// The training interactions: one per (actor, product) pair with a positive weighted sum,
/// weighted with `weights`, timestamped with the pair's latest interaction.
pub async fn training_interactions(
    store: &dyn ItemStore,
    weights: &KindWeights,
) -> StoreResult<Vec<Interaction>> {
    Ok(all_aggregates(store)
        .await?
        .iter()
        .filter_map(|a| a.to_interaction(weights))
        .collect())
}

/// The weighted activity of each product over the hours `[from, to)` (whole hours; hourly
/// buckets are kept 8 days): `(product id, hour start epoch seconds, weight)`, read concurrently
/// per hour and shard. For trending.
pub async fn product_activity(
    store: &dyn ItemStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    weights: &KindWeights,
) -> StoreResult<Vec<(String, i64, f32)>> {
    let mut hours = Vec::new();
    let mut t = from.timestamp() - from.timestamp().rem_euclid(3600);
    while t < to.timestamp() {
        hours.push(t);
        t += 3600;
    }
    let mut attrs = vec![ATTR_PRODUCT];
    attrs.extend(InteractionKind::ALL.iter().map(|k| k.name()));
    let reads = hours.iter().flat_map(|&hour| {
        let attrs = attrs.clone();
        (0..keys::PRODUCT_ACTIVITY_SHARDS).map(move |shard| {
            let at = DateTime::from_timestamp(hour, 0).unwrap_or_default();
            let query = Query::table(keys::product_activity_pk(at, shard)).project(&attrs);
            async move {
                let items = query_all(store, query).await?;
                Ok::<_, crate::store::StoreError>((hour, items))
            }
        })
    });
    let mut by_key: HashMap<(String, i64), f32> = HashMap::new();
    for (hour, items) in try_join_all(reads).await? {
        for item in items {
            let Some(product) = item.get(ATTR_PRODUCT).and_then(Value::as_str) else {
                continue;
            };
            let w = weights.weigh(&counts_of(&item));
            if w > 0.0 {
                *by_key.entry((product.to_string(), hour)).or_default() += w;
            }
        }
    }
    let mut out: Vec<(String, i64, f32)> =
        by_key.into_iter().map(|((p, h), w)| (p, h, w)).collect();
    out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// One raw event: `(actor, product, kind, count, epoch millis)`.
pub type RawEvent = (String, String, InteractionKind, i64, i64);

/// The partition keys of one day's raw events (one per shard), for readers that find the events
/// in a scan rather than querying them ([`raw_event_of`] reads each).
pub fn event_pks_of_day(day: chrono::NaiveDate) -> impl Iterator<Item = String> {
    (0..keys::INTERACTION_SHARDS).map(move |shard| keys::interaction_event_pk(day, shard))
}

/// A raw event item's fields; `None` for an item that is not one.
pub fn raw_event_of(item: &Item) -> Option<RawEvent> {
    let get = |a: &str| item.get(a).and_then(Value::as_str).map(str::to_string);
    let kind = get("kind").and_then(|k| InteractionKind::parse(&k))?;
    let count = item.get("count").and_then(Value::as_i64).unwrap_or(0);
    let at = item.get("at").and_then(Value::as_i64).unwrap_or(0);
    Some((get(ATTR_ACTOR)?, get(ATTR_PRODUCT)?, kind, count, at))
}

#[cfg(test)]
mod tests;
