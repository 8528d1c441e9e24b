//! "Frequently bought together": association rules mined from orders by a batch job, and, until
//! a rule set exists for a product, rules computed on the fly from the co-purchase counters that
//! every order updates (see `orders::record_co_purchases`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    domain::{
        catalog,
        orders::{self, ORDERS_COUNTER},
    },
    reco::association::{self, AssociationParams, Rule},
    store::{self, ItemStore, PK, Query, SK, StoreError, TxOp, keys},
};

/// Default minimum number of orders a pair must share to make a rule (see
/// [`AssociationParams::min_support_count`]: lift-first ranking needs a floor against noise).
pub const DEFAULT_MIN_SUPPORT: u64 = 3;

/// A product's mined rules as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRules {
    rules: Vec<Rule<String>>,
    computed_at: String,
    orders: u64,
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The rule set of the last mining run.
    MinedRules,
    /// The live co-purchase counters (no rule set for this product yet).
    CoPurchaseCounts,
}

/// What a mining run did.
#[derive(Debug, Default, Serialize)]
pub struct MiningReport {
    pub orders: usize,
    pub products_with_rules: usize,
    pub rules: usize,
    pub stale_rule_sets_removed: usize,
    /// Milliseconds spent reading orders, mining, and reading and writing rule sets.
    pub read_ms: u64,
    pub mine_ms: u64,
    pub write_ms: u64,
}

fn ms_since(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Orders read per page by the mining job: memory stays bounded by a page, whatever the number
/// of orders.
const ORDERS_PAGE: u32 = 500;

/// The product ids of every non-cancelled order, read page by page and projected to the status
/// and the order's product ids (see [`orders::PRODUCT_IDS`]) rather than decoded whole. Orders
/// stored before that attribute existed are read whole, in batches.
async fn order_baskets(store: &dyn ItemStore) -> Result<Vec<Vec<String>>, StoreError> {
    let ids_of = |list: &Value, field: Option<&str>| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| match field {
                Some(f) => v.get(f)?.as_str().map(str::to_string),
                None => v.as_str().map(str::to_string),
            })
            .collect()
    };
    let cancelled = |order: &store::Item| {
        order.get("status").and_then(Value::as_str) == Some(orders::OrderStatus::Cancelled.as_str())
    };
    let mut baskets = Vec::new();
    let mut legacy = Vec::new();
    let mut query = Query::gsi2(keys::ALL_ORDERS_PK)
        .limit(ORDERS_PAGE)
        .project(&["status", orders::PRODUCT_IDS]);
    loop {
        let page = store.query(query.clone()).await?;
        for order in page.items.iter().filter(|o| !cancelled(o)) {
            match order.get(orders::PRODUCT_IDS) {
                Some(ids) => baskets.push(ids_of(ids, None)),
                None => {
                    if let Some(key) = store::Key::of(order) {
                        legacy.push(key);
                    }
                }
            }
        }
        match page.cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    for order in store.batch_get(&legacy).await? {
        if !cancelled(&order) {
            baskets.push(ids_of(
                order.get("items").unwrap_or(&Value::Null),
                Some("product_id"),
            ));
        }
    }
    baskets.retain(|b| !b.is_empty());
    Ok(baskets)
}

/// Mines rules from every non-cancelled order and stores each product's rule list (replacing the
/// previous run's; products that lost all their rules lose their rule set).
pub async fn mine_and_store(
    store: &dyn ItemStore,
    min_support_count: u64,
) -> Result<MiningReport, StoreError> {
    let started = std::time::Instant::now();
    let baskets = order_baskets(store).await?;
    let read_ms = ms_since(started);
    let started = std::time::Instant::now();
    let params = AssociationParams {
        min_support_count,
        ..AssociationParams::default()
    };
    let rule_set = association::mine_rules(&baskets, &params);
    let mine_ms = ms_since(started);
    let started = std::time::Instant::now();
    let computed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut report = MiningReport {
        orders: baskets.len(),
        read_ms,
        mine_ms,
        ..MiningReport::default()
    };

    let mut ops = Vec::new();
    for (product_id, rules) in &rule_set {
        report.products_with_rules += 1;
        report.rules += rules.len();
        let mut item = store::to_item(&StoredRules {
            rules: rules.clone(),
            computed_at: computed_at.clone(),
            orders: baskets.len() as u64,
        })?;
        let key = keys::fbt_rules(product_id);
        item.insert(PK.into(), key.pk.into());
        item.insert(SK.into(), key.sk.into());
        item.insert("entity".into(), "fbt_rules".into());
        ops.push(TxOp::Put {
            item,
            condition: None,
        });
    }
    // Rule sets of the last run for products that have none now.
    let products =
        store::query_all(store, Query::gsi1(keys::PRODUCTS_INDEX_PK).project(&["id"])).await?;
    let candidates: Vec<store::Key> = products
        .iter()
        .filter_map(|p| p.get("id").and_then(Value::as_str))
        .filter(|id| !rule_set.contains_key(*id))
        .map(keys::fbt_rules)
        .collect();
    for key in store
        .batch_get(&candidates)
        .await?
        .iter()
        .filter_map(store::Key::of)
    {
        report.stale_rule_sets_removed += 1;
        ops.push(TxOp::Delete {
            key,
            condition: None,
        });
    }
    // Idempotent writes in groups of 25 (each put stands alone; a failed run is simply re-run).
    for chunk in ops.chunks(25) {
        store.transact(chunk.to_vec()).await?;
    }
    report.write_ms = ms_since(started);
    Ok(report)
}

/// The best rules `product_id -> other products`, from the mined rule set when there is one,
/// else from the co-purchase counters.
pub async fn rules_for(
    store: &dyn ItemStore,
    product_id: &str,
    limit: usize,
) -> Result<(Vec<Rule<String>>, Source), StoreError> {
    if let Some(item) = store.get(&keys::fbt_rules(product_id)).await? {
        let stored: StoredRules = store::from_item(item)?;
        let mut rules = stored.rules;
        rules.truncate(limit);
        return Ok((rules, Source::MinedRules));
    }
    let counts: Vec<(String, u64)> =
        store::query_all(store, Query::table(keys::co_purchase_pk(product_id)))
            .await?
            .into_iter()
            .filter_map(|i| {
                let other = i.get(SK)?.as_str()?.to_string();
                let n = i.get("count").and_then(Value::as_u64)?;
                Some((other, n))
            })
            .collect();
    if counts.is_empty() {
        return Ok((Vec::new(), Source::CoPurchaseCounts));
    }
    let mut ids: Vec<String> = counts.iter().map(|(id, _)| id.clone()).collect();
    ids.push(product_id.to_string());
    let products = catalog::get_products(store, &ids).await?;
    let baskets = |id: &str| {
        products
            .iter()
            .find(|p| p.id == id)
            .map_or(0, |p| p.basket_count)
    };
    let n = store
        .get(&keys::stats(ORDERS_COUNTER))
        .await?
        .and_then(|i| i.get("value").and_then(Value::as_u64))
        .unwrap_or(0);
    let rules = association::rank_co_purchases(
        baskets(product_id),
        counts
            .iter()
            .map(|(id, pair)| (id.clone(), *pair, baskets(id))),
        n,
        limit,
    );
    Ok((rules, Source::CoPurchaseCounts))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{ai::local::LocalEmbedder, fixtures, store::local::LocalStore};

    async fn products(store: &dyn ItemStore, n: usize) -> Vec<String> {
        let e = LocalEmbedder::new(16);
        let mut ids = Vec::new();
        for i in 0..n {
            ids.push(
                fixtures::product(store, &e, &format!("T-{i}"), 10.0, 1000)
                    .await
                    .id,
            );
        }
        ids
    }

    async fn order(store: &dyn ItemStore, user: &str, basket: &[&String]) -> String {
        let ids: Vec<&str> = basket.iter().map(|s| s.as_str()).collect();
        fixtures::place_order(store, user, &ids).await.id
    }

    #[tokio::test]
    async fn counters_answer_first_then_mined_rules() {
        let store = LocalStore::in_memory().unwrap();
        let p = products(&store, 4).await;
        // a+b three times, a+c once, d alone twice: N = 6.
        for _ in 0..3 {
            order(&store, "u1", &[&p[0], &p[1]]).await;
        }
        order(&store, "u2", &[&p[0], &p[2]]).await;
        order(&store, "u3", &[&p[3]]).await;
        order(&store, "u3", &[&p[3]]).await;

        let (rules, source) = rules_for(&store, &p[0], 5).await.unwrap();
        assert_eq!(source, Source::CoPurchaseCounts);
        assert_eq!(rules.len(), 2);
        let b = &rules[0];
        assert_eq!(b.consequent, p[1]);
        assert_eq!(b.pair_count, 3);
        // confidence = 3/4 (a is in 4 orders); lift = 0.75 / (3/6) = 1.5.
        assert!((b.confidence - 0.75).abs() < 1e-9, "{b:?}");
        assert!((b.lift - 1.5).abs() < 1e-9, "{b:?}");
        assert!(rules_for(&store, &p[3], 5).await.unwrap().0.is_empty());

        let report = mine_and_store(&store, 2).await.unwrap();
        assert_eq!(report.orders, 6);
        let (rules, source) = rules_for(&store, &p[0], 5).await.unwrap();
        assert_eq!(source, Source::MinedRules);
        assert_eq!(rules.len(), 1, "a+c seen once is below the support floor");
        assert_eq!(rules[0].consequent, p[1]);
        assert!((rules[0].lift - 1.5).abs() < 1e-9);
    }

    #[tokio::test]
    async fn a_product_that_lost_its_rules_loses_its_rule_set_at_the_next_run() {
        let store = LocalStore::in_memory().unwrap();
        let p = products(&store, 3).await;
        let mut ab = Vec::new();
        for _ in 0..2 {
            ab.push(order(&store, "u1", &[&p[0], &p[1]]).await);
        }
        order(&store, "u2", &[&p[2]]).await;
        let first = mine_and_store(&store, 2).await.unwrap();
        assert_eq!(
            (first.products_with_rules, first.stale_rule_sets_removed),
            (2, 0)
        );
        assert_eq!(
            rules_for(&store, &p[0], 5).await.unwrap().1,
            Source::MinedRules
        );

        // One of the two orders is cancelled: the pair falls below the support floor.
        crate::domain::orders::update_status(&store, &ab[0], orders::OrderStatus::Cancelled, None)
            .await
            .unwrap();
        let second = mine_and_store(&store, 2).await.unwrap();
        assert_eq!(second.orders, 2);
        assert_eq!(
            (second.products_with_rules, second.stale_rule_sets_removed),
            (0, 2)
        );
        assert!(store.get(&keys::fbt_rules(&p[0])).await.unwrap().is_none());
        let (_, source) = rules_for(&store, &p[0], 5).await.unwrap();
        assert_eq!(
            source,
            Source::CoPurchaseCounts,
            "back to the live counters"
        );
        let third = mine_and_store(&store, 2).await.unwrap();
        assert_eq!(third.stale_rule_sets_removed, 0, "nothing left to remove");
    }

    #[tokio::test]
    async fn orders_stored_before_the_product_ids_attribute_are_still_mined() {
        let store = LocalStore::in_memory().unwrap();
        let p = products(&store, 2).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(order(&store, "u1", &[&p[0], &p[1]]).await);
        }
        // Two of them look like orders written by an older version.
        for id in &ids[..2] {
            store
                .update(
                    &keys::order(id),
                    store::Update::new().remove(orders::PRODUCT_IDS),
                    None,
                )
                .await
                .unwrap();
        }
        let baskets = order_baskets(&store).await.unwrap();
        assert_eq!(baskets.len(), 3);
        for b in &baskets {
            let mut b = b.clone();
            b.sort();
            let mut want = vec![p[0].clone(), p[1].clone()];
            want.sort();
            assert_eq!(b, want);
        }
        let report = mine_and_store(&store, 3).await.unwrap();
        assert_eq!((report.orders, report.products_with_rules), (3, 2));
    }
}
