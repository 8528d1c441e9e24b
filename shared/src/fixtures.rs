//! Catalog and order fixtures for tests (this crate's and, with the `testkit` feature, the
//! functions'): a category, products in it, an address, an order placed from a cart.

use crate::{
    ai::Embedder,
    domain::{
        cart::{self, CartOwner},
        catalog::{self, Category, NewCategory, NewProduct, ProductRecord},
        orders::{self, OrderAddress, OrderRecord, PlaceOrder},
    },
    store::ItemStore,
};

/// The category named `name`, created if it does not exist yet.
pub async fn category(store: &dyn ItemStore, name: &str) -> Category {
    let slug = catalog::slugify(name);
    let existing = catalog::list_categories(store)
        .await
        .unwrap_or_else(|e| panic!("categories: {e}"))
        .into_iter()
        .find(|c| c.slug == slug);
    match existing {
        Some(c) => c,
        None => catalog::create_category(
            store,
            NewCategory {
                name: name.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("category {name}: {e}")),
    }
}

/// An active product `code` ("Product <code>") in the category "Things".
pub async fn product(
    store: &dyn ItemStore,
    embedder: &dyn Embedder,
    code: &str,
    price: f64,
    stock: i64,
) -> ProductRecord {
    let cat = category(store, "Things").await;
    catalog::create_product(
        store,
        embedder,
        NewProduct {
            name: format!("Product {code}"),
            code: code.into(),
            price: crate::money::Cents::round_from(price),
            images: vec!["https://example.com/p.jpg".into()],
            in_stock: true,
            stock_quantity: stock,
            category_id: cat.id,
            is_active: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("product {code}: {e}"))
}

pub fn address() -> OrderAddress {
    OrderAddress {
        name: None,
        street: "1 Main St".into(),
        city: "Austin".into(),
        state: "TX".into(),
        zip_code: "73301".into(),
        country: "US".into(),
    }
}

/// Puts one of each product in the user's cart and places the order (paid by card).
pub async fn place_order(
    store: &dyn ItemStore,
    user_id: &str,
    product_ids: &[&str],
) -> OrderRecord {
    for p in product_ids {
        cart::add(store, &CartOwner::User(user_id.into()), p, 1)
            .await
            .unwrap_or_else(|e| panic!("cart add {p}: {e}"));
    }
    orders::place(
        store,
        PlaceOrder {
            user_id: user_id.into(),
            billing_address: address(),
            shipping_address: address(),
            payment_method: "credit_card".into(),
            recommendation_source: Some("homepage".into()),
            recommendation_session_id: None,
            order_notes: None,
            idempotency_key: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("place order: {e}"))
    .0
}
