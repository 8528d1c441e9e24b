//! Recommendation tracking and attribution (issue 13, part 4): what was served, what was clicked,
//! what was bought because of it, and the daily rollups the performance routes read.
//!
//! - **Served**: every response of the recommendation routes gets a `recommendation_id`
//!   ([`new_recommendation_id`]); [`record_served`] stores the list (`RECLIST#<id>` / `SERVED`,
//!   kept [`SERVED_TTL_SECS`]: 7 days) and counts one impression per item under the item's
//!   family (and under `hybrid` too when the list is blended), with its score.
//! - **Click** ([`track_click`]: `POST /recommendations/track-click`, and a product detail read
//!   with `?rec_id=`): an unknown or expired id is [`TrackError::NotFound`], a product not in the
//!   list [`TrackError::NotInList`]; a click counts once per (list, product): a conditional put of a
//!   marker decides, a repeated click answers `counted: false`. A counted click also remembers, for
//!   a signed-in user, the list they last clicked the product in (24 hours).
//! - **Conversion** ([`attribute_order`], called when an order is placed), per order line:
//!   1. the order's `recommendation_session_id` names a served list (not expired, not served to
//!      another signed-in user) that holds the line's product: the conversion counts for that
//!      list (no click needed);
//!   2. otherwise, the same user clicked that product in a recommendation list within the last 24
//!      hours: the conversion counts for the list of the latest such click.
//!
//!   A (list, product) converts at most once (a marker by conditional put), whatever the number
//!   of orders. Cancelling an order does not withdraw its conversions. Guests cannot order, so a
//!   guest's clicks only count as clicks.
//! - Clicks and conversions are counted on the day the list was served (see [`rollups`]), and for
//!   the list's A/B arm through [`experiments::count`] (impressions, clicks, conversions with the
//!   line's revenue).
//!
//! Cost on the request path: [`record_served`] issues the list's put, one `ADD` per distinct
//! product, one for the day's totals and the arm's count at once (one round trip of latency); a
//! click reads the list, puts its marker, then issues its three or four writes at once; an order's
//! attribution reads at most the named list and one batch of the user's recent clicks, bounded by
//! [`ATTRIBUTION_BUDGET`] and never failing the order ([`attribute_order_logged`]). Counters are
//! statistics: a crash between the marker and the `ADD`s loses that one count (the marker keeps it
//! from being counted twice), as with the co-purchase counts of orders.

pub mod rollups;

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::experiments::{self, ArmEvent, ArmRef};
use crate::domain::interactions::{Actor, InteractionKind, Signal};
use crate::domain::orders::OrderRecord;
use crate::reco::algorithm::{Algorithm, Family};
use crate::store::{
    Condition, EXPIRES_AT, Item, ItemStore, PK, SK, StoreError, StoreResult, from_item, keys,
    to_item,
};

use rollups::{Adds, Counter};

/// How long a served list can be clicked and converted.
pub const SERVED_TTL_SECS: i64 = 7 * 24 * 3600;
/// How long after a click a purchase of the clicked product by the same user is attributed to it.
pub const CLICK_ATTRIBUTION_SECS: i64 = 24 * 3600;
/// The most an order's attribution may add to its placement; past it the attribution is dropped
/// (and logged).
pub const ATTRIBUTION_BUDGET: StdDuration = StdDuration::from_millis(250);

/// One served item.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedItem {
    pub product_id: String,
    pub algorithm: Algorithm,
    /// In [0, 1].
    pub score: f32,
}

/// One served list (one `recommendation_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// `homepage`, `product_page`, `cart`, `checkout`, `product`, `fbt`, `popular`,
    /// `trending`, `new_arrivals` or `personalized`.
    pub recommendation_type: String,
    /// A blended list (homepage, personalized): counted under the `hybrid` family too.
    pub blended: bool,
    pub actor: Option<Actor>,
    pub arm: Option<ArmRef>,
    pub items: Vec<ServedItem>,
}

/// A new recommendation id (`rec_` + 32 hex digits).
pub fn new_recommendation_id() -> String {
    format!("rec_{}", uuid::Uuid::new_v4().simple())
}

/// The families an item of a list is counted under.
fn families(algorithm: Algorithm, blended: bool) -> Vec<Family> {
    let mut out = vec![algorithm.family()];
    if blended {
        out.push(Family::Hybrid);
    }
    out
}

/// A served list as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredList {
    recommendation_type: String,
    blended: bool,
    /// [`Actor::log_id`].
    actor: Option<String>,
    arm: Option<ArmRef>,
    items: Vec<StoredItem>,
    /// The serving day (`yyyy-mm-dd`, UTC): clicks and conversions count on it.
    day: NaiveDate,
    served_at: i64,
    expires_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredItem {
    product_id: String,
    algorithm: Algorithm,
    score: f32,
}

/// What a click or conversion counts for: one product of one list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hit {
    recommendation_id: String,
    product_id: String,
    day: NaiveDate,
    algorithm: Algorithm,
    blended: bool,
    arm: Option<ArmRef>,
}

impl Hit {
    fn of(id: &str, list: &StoredList, product_id: &str) -> Option<Self> {
        let item = list.items.iter().find(|i| i.product_id == product_id)?;
        Some(Self {
            recommendation_id: id.to_string(),
            product_id: product_id.to_string(),
            day: list.day,
            algorithm: item.algorithm,
            blended: list.blended,
            arm: list.arm.clone(),
        })
    }

    /// Adds one `counter` to the product's and the day's counters of every family of the hit.
    async fn count(&self, store: &dyn ItemStore, counter: Counter) -> StoreResult<()> {
        let adds: Adds = families(self.algorithm, self.blended)
            .into_iter()
            .map(|f| (f, counter, 1))
            .collect();
        rollups::add(
            store,
            self.day,
            &[(self.product_id.clone(), adds.clone())],
            &adds,
        )
        .await
    }
}

fn item_with_key(key: crate::store::Key, mut item: Item) -> Item {
    item.insert(PK.into(), Value::from(key.pk));
    item.insert(SK.into(), Value::from(key.sk));
    item
}

/// Counts `event` for `arm`, logging a failure (the arm's figures are statistics).
async fn count_arm(store: &dyn ItemStore, arm: Option<&ArmRef>, event: ArmEvent) {
    if let Some(arm) = arm
        && let Err(e) = experiments::count(store, arm, event).await
    {
        tracing::warn!(error = %e, experiment = %arm.experiment_id, "arm count not recorded");
    }
}

/// Records a served list under `id`: what track-click and attribution read, and the impression
/// rollups. Called on the request path, once per response.
pub async fn record_served(
    store: &dyn ItemStore,
    id: &str,
    served: &Served,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let day = now.date_naive();
    let list = StoredList {
        recommendation_type: served.recommendation_type.clone(),
        blended: served.blended,
        actor: served.actor.as_ref().map(Actor::log_id),
        arm: served.arm.clone(),
        items: served
            .items
            .iter()
            .map(|i| StoredItem {
                product_id: i.product_id.clone(),
                algorithm: i.algorithm,
                score: if i.score.is_finite() {
                    i.score.clamp(0.0, 1.0)
                } else {
                    0.0
                },
            })
            .collect(),
        day,
        served_at: now.timestamp(),
        expires_at: now.timestamp() + SERVED_TTL_SECS,
    };
    let mut item = item_with_key(keys::rec_list(id), to_item(&list)?);
    item.insert(EXPIRES_AT.into(), Value::from(list.expires_at));

    // One write per distinct product (a product twice in a list counts twice, on one item).
    let mut per_product: BTreeMap<&str, BTreeMap<(Family, u8), i64>> = BTreeMap::new();
    let mut totals: BTreeMap<(Family, u8), i64> = BTreeMap::new();
    for i in &list.items {
        let micros = rollups::score_micros(i.score);
        for family in families(i.algorithm, list.blended) {
            let p = per_product.entry(i.product_id.as_str()).or_default();
            *p.entry((family, 0)).or_default() += 1;
            *p.entry((family, 1)).or_default() += micros;
            *totals.entry((family, 0)).or_default() += 1;
            *totals.entry((family, 1)).or_default() += micros;
        }
    }
    let to_adds = |m: &BTreeMap<(Family, u8), i64>| -> Adds {
        m.iter()
            .map(|(&(f, c), &n)| {
                let counter = if c == 0 {
                    Counter::Impressions
                } else {
                    Counter::ScoreMicros
                };
                (f, counter, n)
            })
            .collect()
    };
    let per_product: Vec<(String, Adds)> = per_product
        .iter()
        .map(|(p, m)| (p.to_string(), to_adds(m)))
        .collect();
    let impressions = u32::try_from(list.items.len()).unwrap_or(u32::MAX);
    let arm = async {
        if impressions > 0 {
            count_arm(store, list.arm.as_ref(), ArmEvent::Impressions(impressions)).await;
        }
    };
    let totals = to_adds(&totals);
    let ((), (), ()) = futures::try_join!(
        store.put(item, None),
        rollups::add(store, day, &per_product, &totals),
        async {
            arm.await;
            Ok(())
        },
    )?;
    Ok(())
}

/// Why a click was refused.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// No served list has this id (never served, or expired).
    #[error("recommendation not found")]
    NotFound,
    /// The list does not hold the product.
    #[error("the product is not in this recommendation")]
    NotInList,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A click that was accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ClickOutcome {
    /// False when this (list, product) click had been counted already.
    pub counted: bool,
    /// Whom to record the `rec_click` interaction for: the caller, else the list's actor.
    pub actor: Option<Actor>,
}

impl ClickOutcome {
    /// The interaction-log signal of a counted click (none for a repeated one or without an actor).
    pub fn signal(&self, product_id: &str, now: DateTime<Utc>) -> Option<Signal> {
        if !self.counted {
            return None;
        }
        let actor = self.actor.clone()?;
        Some(Signal::new(actor, product_id, InteractionKind::RecClick).at(now))
    }
}

async fn read_list(
    store: &dyn ItemStore,
    id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<StoredList>> {
    // An id that cannot be a key (empty, too long) is just unknown.
    if id.is_empty() || id.len() > 200 {
        return Ok(None);
    }
    let Some(item) = store.get(&keys::rec_list(id)).await? else {
        return Ok(None);
    };
    let list: StoredList = from_item(item)?;
    Ok((list.expires_at > now.timestamp()).then_some(list))
}

/// Puts a once-only marker; `false` when it was there already.
async fn put_marker(
    store: &dyn ItemStore,
    key: crate::store::Key,
    expires_at: i64,
) -> StoreResult<bool> {
    let mut item = Item::new();
    item.insert(EXPIRES_AT.into(), Value::from(expires_at));
    match store
        .put(item_with_key(key, item), Some(Condition::ItemNotExists))
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The latest recommendation click of a user on a product (for click-then-purchase attribution).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastClick {
    hit: Hit,
    clicked_at: i64,
}

/// Records a click on `product_id` in the list `recommendation_id` by `caller` (the signed-in user
/// or guest, if known). See the module docs.
pub async fn track_click(
    store: &dyn ItemStore,
    recommendation_id: &str,
    product_id: &str,
    caller: Option<&Actor>,
    now: DateTime<Utc>,
) -> Result<ClickOutcome, TrackError> {
    let list = read_list(store, recommendation_id, now)
        .await?
        .ok_or(TrackError::NotFound)?;
    let hit = Hit::of(recommendation_id, &list, product_id).ok_or(TrackError::NotInList)?;
    let actor = caller
        .cloned()
        .or_else(|| list.actor.as_deref().map(Actor::from_log_id));
    let counted = put_marker(
        store,
        keys::rec_click_marker(recommendation_id, product_id),
        list.expires_at,
    )
    .await?;
    if !counted {
        return Ok(ClickOutcome { counted, actor });
    }
    let remember = async {
        let Some(Actor::User(user)) = &actor else {
            return Ok(());
        };
        let last = LastClick {
            hit: hit.clone(),
            clicked_at: now.timestamp(),
        };
        let mut item = item_with_key(keys::rec_last_click(user, product_id), to_item(&last)?);
        item.insert(
            EXPIRES_AT.into(),
            Value::from(now.timestamp() + CLICK_ATTRIBUTION_SECS),
        );
        store.put(item, None).await
    };
    let arm = async {
        count_arm(store, hit.arm.as_ref(), ArmEvent::Click).await;
        Ok(())
    };
    futures::try_join!(hit.count(store, Counter::Clicks), remember, arm)?;
    Ok(ClickOutcome { counted, actor })
}

/// The (list, product) hits an order converts, by the rules of the module docs, with each line's
/// revenue (lines of one product summed).
async fn order_hits(
    store: &dyn ItemStore,
    order: &OrderRecord,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(Hit, i64)>> {
    let mut revenue: BTreeMap<&str, i64> = BTreeMap::new();
    for line in &order.items {
        *revenue.entry(line.product_id.as_str()).or_default() += line.total_price.0;
    }
    let mut hits = Vec::new();
    if let Some(id) = order.recommendation_session_id.as_deref()
        && let Some(list) = read_list(store, id, now).await?
        && list
            .actor
            .as_deref()
            .is_none_or(|a| a.starts_with("guest:") || a == order.user_id)
    {
        for (product, cents) in &revenue {
            if let Some(hit) = Hit::of(id, &list, product) {
                hits.push((hit, *cents));
            }
        }
    }
    let rest: Vec<&str> = revenue
        .keys()
        .copied()
        .filter(|p| !hits.iter().any(|(h, _)| h.product_id == *p))
        .collect();
    if rest.is_empty() {
        return Ok(hits);
    }
    let keys: Vec<_> = rest
        .iter()
        .map(|p| keys::rec_last_click(&order.user_id, p))
        .collect();
    for item in store.batch_get(&keys).await? {
        let Ok(last) = from_item::<LastClick>(item) else {
            continue;
        };
        if last.clicked_at + CLICK_ATTRIBUTION_SECS > now.timestamp()
            && last.clicked_at <= now.timestamp()
            && let Some(&cents) = revenue.get(last.hit.product_id.as_str())
        {
            hits.push((last.hit, cents));
        }
    }
    Ok(hits)
}

/// Counts the conversions of a placed order (see the module docs); returns how many were
/// counted now.
pub async fn attribute_order(
    store: &dyn ItemStore,
    order: &OrderRecord,
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let hits = order_hits(store, order, now).await?;
    let convert = hits.iter().map(|(hit, cents)| async move {
        let key = keys::rec_conversion_marker(&hit.recommendation_id, &hit.product_id);
        if !put_marker(store, key, now.timestamp() + SERVED_TTL_SECS).await? {
            return Ok::<_, StoreError>(false);
        }
        let arm = count_arm(
            store,
            hit.arm.as_ref(),
            ArmEvent::Conversion {
                revenue_cents: *cents,
            },
        );
        let (counted, ()) = tokio::join!(hit.count(store, Counter::Conversions), arm);
        counted?;
        Ok(true)
    });
    let done = futures::future::try_join_all(convert).await?;
    Ok(done.into_iter().filter(|&c| c).count())
}

/// [`attribute_order`] within [`ATTRIBUTION_BUDGET`], logging a failure or a timeout: what order
/// placement calls (attribution never fails or holds up an order).
pub async fn attribute_order_logged(store: &dyn ItemStore, order: &OrderRecord) {
    match tokio::time::timeout(
        ATTRIBUTION_BUDGET,
        attribute_order(store, order, Utc::now()),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, order_id = %order.id, "recommendation attribution failed")
        }
        Err(_) => tracing::warn!(
            order_id = %order.id,
            budget_ms = ATTRIBUTION_BUDGET.as_millis() as u64,
            "recommendation attribution took too long and was dropped"
        ),
    }
}

/// The families whose counters add up to every impression once (`hybrid` counts blended items a
/// second time, so it is left out): what the performance route reports without `algorithm`.
pub const OWN_FAMILIES: [Family; 4] = [
    Family::Collaborative,
    Family::ContentBased,
    Family::Trending,
    Family::Fbt,
];

/// The performance of some families over the `days` days ending `today` (the admin route's
/// figures).
#[derive(Debug, Clone, PartialEq)]
pub struct Performance {
    pub totals: rollups::Counts,
    /// Every day of the period, oldest first.
    pub by_day: Vec<(NaiveDate, rollups::Counts)>,
    /// The best `top` products (see [`rollups::by_product`] for the order).
    pub top_products: Vec<(String, rollups::Counts)>,
}

/// Reads [`Performance`] of `families` (summed) from the daily rollups (never the raw events).
pub async fn performance(
    store: &dyn ItemStore,
    families: &[Family],
    today: NaiveDate,
    days: u32,
    top: usize,
) -> StoreResult<Performance> {
    let (by_day, mut top_products) = futures::try_join!(
        rollups::by_day(store, families, today, days),
        rollups::by_product(store, families, today, days)
    )?;
    top_products.truncate(top);
    let mut totals = rollups::Counts::default();
    for (_, c) in &by_day {
        totals.add(*c);
    }
    Ok(Performance {
        totals,
        by_day,
        top_products,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blended_items_count_under_hybrid_too() {
        assert_eq!(
            families(Algorithm::ItemSimilarity, false),
            vec![Family::Collaborative]
        );
        assert_eq!(
            families(Algorithm::Popular, true),
            vec![Family::Trending, Family::Hybrid]
        );
    }
}
