//! Demo interactions for the recommendation models, consistent with the demo orders: the
//! browsing that led to each demo order, so `reco-train` has a realistic log out of the box.
//!
//! For each demo order placed by this seeding (never for orders that existed already, so seeding
//! again adds only what the new orders bring; the aggregates are `ADD`s and would double
//! otherwise), at a time spread over the last [`SPREAD_DAYS`] days, fixed by the order's number:
//! - a purchase of every line at the order's time, a cart add of it a few minutes before and one
//!   to three views of it in the hour before;
//! - two to six views of other products of the category the order centres on, earlier that day
//!   (users view more than they buy, and mostly in the categories they buy from);
//! - one order in four: a cart add of one of those browsed products that was never bought (an
//!   abandoned cart); one in five: a view of a product anywhere in the demo catalog.
//!
//! The demo video likes, saves, completed views and shares are recorded with the videos
//! (`demo_videos`), through the same log. Everything goes through
//! [`interactions::record_bulk`] (the same items as [`interactions::record`], coalesced and
//! written 100 to a transaction, so the 2,000 default orders do not cost ~85,000 separate
//! commits on a file store) with explicit times; the offsets depend only on the demo seeds, the
//! absolute times on when the seeding ran.

use chrono::{DateTime, Duration, Utc};
use shared::{
    domain::{
        catalog::ProductRecord,
        interactions::{self, Actor, InteractionKind, Signal},
    },
    store::ItemStore,
};

use crate::demo_catalog::mix;

/// Seed of the demo interactions (times and browsing picks).
pub const DEMO_INTERACTION_SEED: u64 = 0x1A7E_5EED;
/// Interactions are spread over this many days before the seeding (the demo sign-ups').
pub const SPREAD_DAYS: i64 = crate::demo::SIGNUP_SPREAD_DAYS;

/// A demo order this seeding placed: its number, customer and products.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub n: usize,
    pub user_id: String,
    pub product_ids: Vec<String>,
    /// When it was placed ([`order_time`]).
    pub at: DateTime<Utc>,
}

/// The time of demo order `n` of a customer who signed up at `since`: between an hour after
/// that and an hour ago, fixed by `n`.
pub fn order_time(now: DateTime<Utc>, n: usize, since: DateTime<Utc>) -> DateTime<Utc> {
    let h = mix(DEMO_INTERACTION_SEED ^ n as u64);
    let span = (now - since).num_seconds() - 2 * 3600;
    if span <= 0 {
        return now - Duration::minutes(1);
    }
    since + Duration::seconds(3600 + (h % span as u64) as i64)
}

/// The signals of one demo order (see the module docs). `shelf`: the demo products of the
/// category of the order's first line; `all`: every demo product.
pub fn order_signals(
    order: &PlacedOrder,
    shelf: &[&ProductRecord],
    all: &[ProductRecord],
) -> Vec<Signal> {
    let at = order.at;
    let h = mix(DEMO_INTERACTION_SEED ^ 0xB0B ^ order.n as u64);
    let actor = Actor::User(order.user_id.clone());
    let signal = |product: &str, kind, minutes_before: i64| {
        Signal::new(actor.clone(), product, kind).at(at - Duration::minutes(minutes_before))
    };
    let mut out = Vec::new();
    for (i, p) in order.product_ids.iter().enumerate() {
        let views = 1 + (h >> (4 * i)) % 3;
        for v in 0..views as i64 {
            out.push(signal(p, InteractionKind::View, 50 - 10 * v));
        }
        out.push(signal(p, InteractionKind::Cart, 5));
        out.push(signal(p, InteractionKind::Purchase, 0));
    }
    let browsed: Vec<&ProductRecord> = if shelf.is_empty() {
        Vec::new()
    } else {
        let count = 2 + (h >> 16) % 5;
        let start = (h >> 24) as usize % shelf.len();
        (0..shelf.len())
            .map(|k| shelf[(start + k) % shelf.len()])
            .filter(|p| !order.product_ids.contains(&p.id))
            .take(count as usize)
            .collect()
    };
    for (k, p) in browsed.iter().enumerate() {
        out.push(signal(&p.id, InteractionKind::View, 180 + 25 * k as i64));
    }
    if (h >> 40).is_multiple_of(4)
        && let Some(p) = browsed.first()
    {
        out.push(signal(&p.id, InteractionKind::Cart, 170));
    }
    if (h >> 44).is_multiple_of(5) && !all.is_empty() {
        let p = &all[(h >> 48) as usize % all.len()];
        out.push(signal(&p.id, InteractionKind::View, 600));
    }
    out
}

/// Records the signals of the demo orders this seeding placed; returns how many.
pub async fn record_for_orders(
    store: &dyn ItemStore,
    placed: &[PlacedOrder],
    all: &[ProductRecord],
) -> anyhow::Result<usize> {
    let mut signals = Vec::new();
    for order in placed {
        let category = order
            .product_ids
            .first()
            .and_then(|id| all.iter().find(|p| &p.id == id))
            .map(|p| p.category_id.as_str());
        let shelf: Vec<&ProductRecord> = all
            .iter()
            .filter(|p| Some(p.category_id.as_str()) == category)
            .collect();
        signals.extend(order_signals(order, &shelf, all));
    }
    interactions::record_bulk(store, &signals).await?;
    Ok(signals.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn product(id: &str, category: &str) -> ProductRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": id, "code": id, "price_cents": 100, "category_id": category,
            "in_stock": true, "is_active": true, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn demo_seeding_leaves_a_log_to_train_on_consistent_with_the_orders() {
        use std::collections::{HashMap, HashSet};

        use shared::{
            AppState,
            domain::{interactions::KindWeights, orders},
        };

        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        let store = state.store.as_ref();
        let sizes = crate::demo::DemoSizes {
            products: 48,
            customers: 6,
            orders: 40,
            teachers: 0,
            videos: 4,
            rec_sessions: 0,
        };
        crate::demo::seed_all(&state, sizes).await.unwrap();
        let w = KindWeights::default();
        let pairs = interactions::all_aggregates(store).await.unwrap();
        let training = interactions::training_interactions(store, &w)
            .await
            .unwrap();
        assert!(training.len() > 100, "{}", training.len());
        let now = Utc::now().timestamp();
        assert!(
            training
                .iter()
                .all(|i| i.timestamp <= now && i.timestamp > now - (SPREAD_DAYS + 1) * 86_400)
        );

        // Every line of every demo order is a purchase of its customer, and nothing else is.
        let (all_orders, total) = orders::list_all(store, None, 1, 1000).await.unwrap();
        assert_eq!(total, 40);
        let mut bought: HashMap<(String, String), i64> = HashMap::new();
        for o in &all_orders {
            for line in &o.items {
                *bought
                    .entry((o.user_id.clone(), line.product_id.clone()))
                    .or_default() += 1;
            }
        }
        let count = |kind: InteractionKind| -> i64 {
            pairs
                .iter()
                .flat_map(|a| a.counts.iter())
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| n)
                .sum()
        };
        for a in &pairs {
            let purchases = a
                .counts
                .iter()
                .find(|(k, _)| *k == InteractionKind::Purchase)
                .map_or(0, |(_, n)| *n);
            let expected = bought
                .get(&(a.actor.clone(), a.product_id.clone()))
                .copied()
                .unwrap_or(0);
            assert_eq!(purchases, expected, "{a:?}");
        }
        let buyers: HashSet<&String> = all_orders.iter().map(|o| &o.user_id).collect();
        let with_purchases: HashSet<&String> = pairs
            .iter()
            .filter(|a| {
                a.counts
                    .iter()
                    .any(|&(k, n)| k == InteractionKind::Purchase && n > 0)
            })
            .map(|a| &a.actor)
            .collect();
        assert_eq!(buyers, with_purchases);
        let lines: i64 = bought.values().sum();
        assert_eq!(count(InteractionKind::Purchase), lines);
        assert!(
            count(InteractionKind::View) > 2 * lines,
            "users view more than they buy"
        );
        assert!(count(InteractionKind::Cart) >= lines);
        assert!(
            count(InteractionKind::Like) > 0,
            "video likes are in the log too"
        );

        // The spec 000 engagement rollups (kept 31 days) got the recent signals too.
        use shared::domain::personalization::rollups;
        let window = rollups::period(Utc::now().date_naive(), 31);
        let engagement = rollups::totals(store, &window).await.unwrap();
        assert!(
            engagement.get(rollups::ALL).copied().unwrap_or(0) > 0,
            "{engagement:?}"
        );

        // Seeding again adds nothing (the aggregates are ADDs).
        crate::demo::seed_all(&state, sizes).await.unwrap();
        assert_eq!(interactions::all_aggregates(store).await.unwrap(), pairs);
        assert_eq!(rollups::totals(store, &window).await.unwrap(), engagement);
    }

    #[test]
    fn an_orders_signals_buy_every_line_and_browse_its_category_first() {
        let all: Vec<ProductRecord> = (0..10)
            .map(|i| product(&format!("p{i}"), if i < 6 { "a" } else { "b" }))
            .collect();
        let shelf: Vec<&ProductRecord> = all.iter().filter(|p| p.category_id == "a").collect();
        let now = Utc::now();
        for n in 0..50 {
            let at = order_time(now, n, now - Duration::days(SPREAD_DAYS));
            let order = PlacedOrder {
                n,
                user_id: "u".into(),
                product_ids: vec!["p0".into(), "p1".into()],
                at,
            };
            let signals = order_signals(&order, &shelf, &all);
            assert!(at < now && at > now - Duration::days(SPREAD_DAYS));
            let of = |kind| signals.iter().filter(|s| s.kind == kind).count();
            assert_eq!(of(InteractionKind::Purchase), 2);
            assert!(of(InteractionKind::View) >= 4, "each line and 2+ others");
            assert!(of(InteractionKind::View) > of(InteractionKind::Purchase));
            for s in &signals {
                assert!(s.at <= at, "nothing after the order");
                if s.kind == InteractionKind::Purchase {
                    assert_eq!(s.at, at);
                }
            }
            // Browsed products (not bought) are from the order's category, bar one stray view.
            let stray = signals
                .iter()
                .filter(|s| !shelf.iter().any(|p| p.id == s.product_id))
                .count();
            assert!(stray <= 1, "{signals:?}");
            assert_eq!(
                signals,
                order_signals(&order, &shelf, &all),
                "deterministic"
            );
        }
    }
}
