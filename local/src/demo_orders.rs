//! Demo orders with real co-purchase structure, so that "frequently bought together" has
//! something to say out of the box: each order centres on one popular product of a category and
//! usually adds that product's bundle partner (the next popular product of the category), often a
//! product of the sibling category (phones with phone accessories, cookware with coffee...), and
//! sometimes a random product. Deterministic, and idempotent through the order API's own
//! idempotency keys (`demo-order-<n>`).

use std::collections::BTreeMap;

use shared::{
    AppState,
    domain::{
        cart::{self, CartOwner},
        catalog::{self, ProductRecord},
        orders::{self, OrderAddress, OrderError, PlaceOrder},
        users,
    },
};

use crate::{demo::DEMO_CUSTOMER_PREFIX, demo_catalog::mix};

/// What was seeded.
#[derive(Debug, Default)]
pub struct OrdersSeeded {
    pub placed: usize,
    pub existing: usize,
    /// Orders skipped because a product ran out of stock.
    pub skipped: usize,
}

/// How many of each category's products get most of the orders.
const POPULAR: usize = 12;
const PAYMENT: [&str; 4] = ["cash_on_delivery", "credit_card", "paypal", "apple_pay"];

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

    let mut customer_ids = Vec::with_capacity(customers);
    for i in 0..customers {
        let login = format!("{DEMO_CUSTOMER_PREFIX}{i:03}");
        if let Some(u) = users::find_by_login(store, &login).await? {
            customer_ids.push(u.id);
        }
    }
    if customer_ids.is_empty() {
        return Ok(out);
    }

    for n in 0..count {
        let key = format!("demo-order-{n}");
        let user_id = &customer_ids[n % customer_ids.len()];
        if orders::idempotent_order(store, user_id, &key)
            .await?
            .is_some()
        {
            out.existing += 1;
            continue;
        }
        let h = mix(n as u64 ^ 0x5EED);
        let s = (h % shelves.len() as u64) as usize;
        let shelf = shelves[s];
        let popular = shelf.len().clamp(1, POPULAR);
        let idx = ((h >> 8) % popular as u64) as usize;
        let mut basket = vec![&shelf[idx]];
        if (h >> 16) % 10 < 7 {
            basket.push(&shelf[(idx + 1) % popular]);
        }
        // The sibling category: the other half of a pair within a department.
        let sibling = shelves[(s ^ 1).min(shelves.len() - 1)];
        if (h >> 20) % 10 < 5 && !sibling.is_empty() {
            basket.push(&sibling[idx % sibling.len().min(POPULAR)]);
        }
        if (h >> 24) % 10 < 2 {
            basket.push(&all[((h >> 28) % all.len() as u64) as usize]);
        }
        basket.sort_by(|a, b| a.id.cmp(&b.id));
        basket.dedup_by(|a, b| a.id == b.id);

        let owner = CartOwner::User(user_id.clone());
        cart::clear(store, &owner).await?;
        let mut stocked = true;
        for p in &basket {
            if cart::add(store, &owner, &p.id, 1).await.is_err() {
                stocked = false;
            }
        }
        if !stocked {
            cart::clear(store, &owner).await?;
            out.skipped += 1;
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
        let placed = orders::place(
            store,
            PlaceOrder {
                user_id: user_id.clone(),
                billing_address: address.clone(),
                shipping_address: address,
                payment_method: PAYMENT[n % PAYMENT.len()].into(),
                recommendation_source: (n % 3 == 0).then(|| "homepage".to_string()),
                recommendation_session_id: None,
                order_notes: None,
                idempotency_key: Some(key),
            },
        )
        .await;
        match placed {
            Ok((_, true)) => out.placed += 1,
            Ok((_, false)) => out.existing += 1,
            Err(OrderError::InsufficientStock { .. } | OrderError::ProductUnavailable { .. }) => {
                cart::clear(store, &owner).await?;
                out.skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
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
        assert!(first.placed > 250, "{first:?}");
        let again = seed_orders(&state, 300, 20).await.unwrap();
        assert_eq!(again.placed, 0, "{again:?}");

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
}
