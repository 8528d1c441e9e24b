//! Demo orders with real co-purchase structure, so that "frequently bought together" has
//! something to say out of the box: each order centres on one popular product of a category and
//! usually adds that product's bundle partner (the next popular product of the category), often a
//! product of the sibling category (phones with phone accessories, cookware with coffee...), and
//! sometimes a random product.
//!
//! - Exactly the number asked for is placed: each pick is drawn within the stock left (a sold-out
//!   product gives way to the next one on its shelf, then anywhere in the demo catalog); only a
//!   demo catalog with no unit left at all stops short (counted as `skipped`).
//! - Never touches a cart: orders are placed from their lines ([`orders::place_lines`]), so a
//!   demo customer's own cart survives every restart.
//! - Deterministic and idempotent: order `n` has a fixed id ([`demo_order_id`]), written only if
//!   absent, so seeding again places only the orders still missing.
//! - Each order placed brings its interactions (views, cart adds, purchases:
//!   [`crate::demo_interactions`]), recorded once all orders are placed.

use std::collections::{BTreeMap, HashMap};

use shared::{
    AppState,
    domain::{
        catalog::{self, ProductRecord},
        orders::{self, OrderAddress, OrderError, PlaceOrder},
        users,
    },
};

use crate::{
    demo::DEMO_CUSTOMER_PREFIX,
    demo_catalog::mix,
    demo_interactions::{self, PlacedOrder},
};

/// What was seeded.
#[derive(Debug, Default)]
pub struct OrdersSeeded {
    pub placed: usize,
    pub existing: usize,
    /// Orders not placed because no demo product had a unit left.
    pub skipped: usize,
    /// Interactions recorded for the orders placed.
    pub interactions: usize,
    /// Searches logged before the orders placed.
    pub searches: usize,
}

/// How many of each category's products get most of the orders.
const POPULAR: usize = 12;
const PAYMENT: [&str; 4] = ["cash_on_delivery", "credit_card", "paypal", "apple_pay"];
/// Seed of the demo order ids.
const DEMO_ORDER_SEED: u64 = 0x0DE2_0000_5EED;
/// Placing one order again after a product turned out sold out (stock changed since it was read).
const ATTEMPTS: usize = 3;

/// The id of the `n`-th demo order.
pub fn demo_order_id(n: usize) -> String {
    uuid::Uuid::from_u64_pair(DEMO_ORDER_SEED, n as u64).to_string()
}

/// Units left per product id, as the seeding draws them.
type Stock = HashMap<String, i64>;

/// The first product of `shelf` from `start` on (wrapping) with a unit left and not in `basket`.
fn pick<'a>(
    shelf: &'a [ProductRecord],
    start: usize,
    basket: &[&ProductRecord],
    stock: &Stock,
) -> Option<&'a ProductRecord> {
    (0..shelf.len())
        .map(|k| &shelf[(start + k) % shelf.len()])
        .find(|p| {
            stock.get(&p.id).is_some_and(|&left| left > 0) && !basket.iter().any(|b| b.id == p.id)
        })
}

/// The basket of order `n` (one unit of each product), drawn within `stock`; empty only when
/// no demo product has a unit left.
fn basket<'a>(
    n: usize,
    shelves: &[&'a Vec<ProductRecord>],
    all: &'a [ProductRecord],
    stock: &Stock,
) -> Vec<&'a ProductRecord> {
    let h = mix(n as u64 ^ 0x5EED);
    let s = (h % shelves.len() as u64) as usize;
    let shelf = shelves[s];
    let popular = shelf.len().clamp(1, POPULAR);
    let idx = ((h >> 8) % popular as u64) as usize;
    let mut basket = Vec::with_capacity(4);
    let Some(first) = pick(shelf, idx, &basket, stock)
        .or_else(|| pick(all, (h >> 28) as usize % all.len(), &basket, stock))
    else {
        return basket;
    };
    basket.push(first);
    if (h >> 16) % 10 < 7
        && let Some(p) = pick(shelf, (idx + 1) % popular, &basket, stock)
    {
        basket.push(p);
    }
    // The sibling category: the other half of a pair within a department.
    let sibling = shelves[(s ^ 1).min(shelves.len() - 1)];
    if (h >> 20) % 10 < 5
        && !sibling.is_empty()
        && let Some(p) = pick(sibling, idx % sibling.len().min(POPULAR), &basket, stock)
    {
        basket.push(p);
    }
    if (h >> 24) % 10 < 2
        && let Some(p) = pick(all, ((h >> 28) % all.len() as u64) as usize, &basket, stock)
    {
        basket.push(p);
    }
    basket.sort_by(|a, b| a.id.cmp(&b.id));
    basket
}

/// Places `count` demo orders for the first `customers` demo customers.
pub async fn seed_orders(
    state: &AppState,
    count: usize,
    customers: usize,
) -> anyhow::Result<OrdersSeeded> {
    let store = state.store.as_ref();
    let mut out = OrdersSeeded::default();
    if count == 0 || customers == 0 {
        return Ok(out);
    }
    // Demo products by category, in code order (the catalog's own deterministic order).
    let mut by_category: BTreeMap<String, Vec<ProductRecord>> = BTreeMap::new();
    let mut all: Vec<ProductRecord> = catalog::list_all_products(store)
        .await?
        .into_iter()
        .filter(|p| p.code.starts_with("DEMO-") && p.is_active)
        .collect();
    all.sort_by(|a, b| a.code.cmp(&b.code));
    let mut category_order = Vec::new();
    for p in &all {
        if !by_category.contains_key(&p.category_id) {
            category_order.push(p.category_id.clone());
        }
        by_category
            .entry(p.category_id.clone())
            .or_default()
            .push(p.clone());
    }
    if category_order.is_empty() {
        return Ok(out);
    }
    let shelves: Vec<&Vec<ProductRecord>> = category_order
        .iter()
        .filter_map(|c| by_category.get(c))
        .collect();
    let mut stock: Stock = all
        .iter()
        .filter(|p| p.available())
        .map(|p| (p.id.clone(), p.stock_quantity))
        .collect();

    let now = chrono::Utc::now();
    let mut customer_ids = Vec::with_capacity(customers);
    for i in 0..customers {
        let login = format!("{DEMO_CUSTOMER_PREFIX}{i:03}");
        if let Some(u) = users::find_by_login(store, &login).await? {
            let since = chrono::DateTime::parse_from_rfc3339(&u.created_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(now);
            customer_ids.push((u.id, since));
        }
    }
    if customer_ids.is_empty() {
        return Ok(out);
    }

    let mut placed_orders = Vec::new();
    for n in 0..count {
        let id = demo_order_id(n);
        let (user_id, since) = &customer_ids[n % customer_ids.len()];
        let at = demo_interactions::order_time(now, n, *since);
        // Orders seeded before the ids were fixed carry this idempotency key (kept for a day).
        let legacy_key = format!("demo-order-{n}");
        if orders::get(store, &id).await?.is_some()
            || orders::idempotent_order(store, user_id, &legacy_key)
                .await?
                .is_some()
        {
            out.existing += 1;
            continue;
        }
        let address = OrderAddress {
            name: None,
            street: format!("{} Market Street", 100 + n % 50),
            city: "Austin".into(),
            state: "TX".into(),
            zip_code: "73301".into(),
            country: "US".into(),
        };
        let req = PlaceOrder {
            user_id: user_id.clone(),
            billing_address: address.clone(),
            shipping_address: address,
            payment_method: PAYMENT[n % PAYMENT.len()].into(),
            recommendation_source: (n % 3 == 0).then(|| "homepage".to_string()),
            recommendation_session_id: None,
            order_notes: None,
            idempotency_key: None,
        };
        let mut placed = false;
        for _ in 0..ATTEMPTS {
            let lines: Vec<(String, i64)> = basket(n, &shelves, &all, &stock)
                .into_iter()
                .map(|p| (p.id.clone(), 1))
                .collect();
            if lines.is_empty() {
                break;
            }
            match orders::place_lines_at(store, req.clone(), &lines, &id, Some(at)).await {
                Ok((_, created)) => {
                    if created {
                        out.placed += 1;
                        advance_status(store, &id, n, now - at).await?;
                        placed_orders.push(PlacedOrder {
                            n,
                            user_id: user_id.clone(),
                            product_ids: lines.iter().map(|(p, _)| p.clone()).collect(),
                            at,
                        });
                        for (product_id, quantity) in &lines {
                            if let Some(left) = stock.get_mut(product_id) {
                                *left -= quantity;
                            }
                        }
                    } else {
                        out.existing += 1;
                    }
                    placed = true;
                    break;
                }
                // Sold elsewhere since it was read: draw again without it.
                Err(
                    OrderError::InsufficientStock { product_id, .. }
                    | OrderError::ProductUnavailable { product_id },
                ) => {
                    stock.remove(&product_id);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !placed {
            tracing::warn!(
                order = n,
                "demo order not placed: no demo product left in stock"
            );
            out.skipped += 1;
        }
    }
    out.interactions = demo_interactions::record_for_orders(store, &placed_orders, &all).await?;
    out.searches = crate::demo_searches::seed_searches(store, &placed_orders, &all).await?;
    Ok(out)
}

/// Moves a demo order on as a shop would have by now: older than a week delivered, two days to
/// a week shipped, one to two days confirmed, younger pending; one in twenty (older than a day)
/// cancelled instead (its stock goes back).
async fn advance_status(
    store: &dyn shared::store::ItemStore,
    id: &str,
    n: usize,
    age: chrono::Duration,
) -> anyhow::Result<()> {
    use orders::OrderStatus::*;
    let path: &[orders::OrderStatus] = if age < chrono::Duration::days(1) {
        &[]
    } else if n % 20 == 7 {
        &[Cancelled]
    } else if age < chrono::Duration::days(2) {
        &[Confirmed]
    } else if age < chrono::Duration::days(7) {
        &[Confirmed, Shipped]
    } else {
        &[Confirmed, Shipped, Delivered]
    };
    for &status in path {
        orders::update_status(store, id, status, None).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use shared::domain::fbt;

    #[tokio::test]
    async fn demo_orders_have_co_purchase_structure_and_reseed_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        crate::demo::seed(&state, 20).await.unwrap();
        crate::demo_catalog::seed_catalog(&state, 240)
            .await
            .unwrap();
        let first = seed_orders(&state, 300, 20).await.unwrap();
        assert_eq!((first.placed, first.existing, first.skipped), (300, 0, 0));
        let again = seed_orders(&state, 300, 20).await.unwrap();
        assert_eq!((again.placed, again.existing, again.skipped), (0, 300, 0));
        let more = seed_orders(&state, 310, 20).await.unwrap();
        assert_eq!(
            (more.placed, more.existing),
            (10, 300),
            "only the missing ones"
        );

        let report = fbt::mine_and_store(state.store.as_ref(), fbt::DEFAULT_MIN_SUPPORT)
            .await
            .unwrap();
        assert!(report.products_with_rules > 20, "{report:?}");
        // The most popular product of the first category is bought with its bundle partner.
        let products = catalog::list_all_products(state.store.as_ref())
            .await
            .unwrap();
        let top = products.iter().max_by_key(|p| p.basket_count).unwrap();
        let (rules, _) = fbt::rules_for(state.store.as_ref(), &top.id, 5)
            .await
            .unwrap();
        assert!(!rules.is_empty());
        assert!(rules.iter().all(|r| r.lift > 1.0), "{rules:?}");
    }

    #[tokio::test]
    async fn exactly_n_orders_are_placed_within_stock() {
        // A small catalog whose popular products sell out: the orders go on elsewhere.
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path().to_path_buf()).unwrap();
        crate::demo::seed(&state, 4).await.unwrap();
        crate::demo_catalog::seed_catalog(&state, 24).await.unwrap();
        let store = state.store.as_ref();
        let before: i64 = catalog::list_all_products(store)
            .await
            .unwrap()
            .iter()
            .filter(|p| p.is_active && p.available())
            .map(|p| p.stock_quantity)
            .sum();
        let seeded = seed_orders(&state, 400, 4).await.unwrap();
        assert_eq!((seeded.placed, seeded.skipped), (400, 0), "{seeded:?}");
        let (listed, total) = orders::list_all(store, None, 1, 10).await.unwrap();
        assert_eq!((listed.len(), total), (10, 400));
        let products = catalog::list_all_products(store).await.unwrap();
        assert!(products.iter().all(|p| p.stock_quantity >= 0));
        assert!(
            products
                .iter()
                .any(|p| p.is_active && p.in_stock && p.stock_quantity == 0),
            "some products sold out on the way"
        );
        let after: i64 = products
            .iter()
            .filter(|p| p.is_active && p.in_stock)
            .map(|p| p.stock_quantity)
            .sum();
        assert!(before - after >= 400, "{before} -> {after}");
    }
}
