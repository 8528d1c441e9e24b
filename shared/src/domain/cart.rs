//! Shopping carts: one per signed-in user, and guest carts identified by an id the client keeps
//! (the `X-Cart-Id` header). Each line is its own item in the cart's partition, so adding to a
//! cart is one conditional write and reading it is one query.
//!
//! Invariants:
//! - a line's quantity is between 1 and the product's stock when it is written, and at most
//!   [`MAX_QUANTITY`]; a cart has at most [`MAX_LINES`] lines;
//! - concurrent adds to the same line never lose each other: every line write is conditioned on
//!   the quantity it was computed from, and retried;
//! - merging a guest cart into a user's cart writes the user's lines and deletes the guest's
//!   lines in one transaction;
//! - guest carts expire [`GUEST_CART_TTL_SECONDS`] after their last change.
//!
//! Stock is checked here for a good shopper experience only; the order transaction is what
//! guarantees stock never goes below zero.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    domain::catalog::{self, ProductRecord},
    money::Cents,
    store::{
        self, Condition, EXPIRES_AT, Item, ItemStore, Key, PK, Query, SK, StoreError, TxOp, keys,
        now_epoch,
    },
};

pub const MAX_QUANTITY: i64 = 100;
pub const MAX_LINES: usize = 100;
pub const GUEST_CART_TTL_SECONDS: i64 = 30 * 24 * 3600;
const MAX_RETRIES: usize = 16;

/// Whose cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    User(String),
    Guest(String),
}

impl CartOwner {
    fn pk(&self) -> String {
        match self {
            CartOwner::User(id) => keys::user_cart_pk(id),
            CartOwner::Guest(id) => keys::guest_cart_pk(id),
        }
    }
}

/// One line of a cart, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CartLine {
    /// The line's own id (`PUT /cart/items/{item_id}`).
    pub id: String,
    pub product_id: String,
    pub quantity: i64,
    /// The product's price when the line was last written (stored as `unit_price_cents`; older
    /// lines: a decimal `unit_price`, see [`line_from_item`]).
    #[serde(rename = "unit_price_cents")]
    pub unit_price: Cents,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("product not found")]
    ProductNotFound,
    #[error("cart item not found")]
    ItemNotFound,
    /// The requested quantity is more than the stock (which is given).
    #[error("only {available} in stock")]
    InsufficientStock { available: i64 },
    #[error("quantity above the maximum of {MAX_QUANTITY}")]
    TooMany,
    #[error("the cart is full")]
    CartFull,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn line_item(owner: &CartOwner, line: &CartLine) -> Result<Item, StoreError> {
    let mut item = store::to_item(line)?;
    let key = Key::new(owner.pk(), keys::cart_line_sk(&line.product_id));
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "cart_line".into());
    if matches!(owner, CartOwner::Guest(_)) {
        item.insert(
            EXPIRES_AT.into(),
            Value::from(now_epoch() + GUEST_CART_TTL_SECONDS),
        );
    }
    Ok(item)
}

/// A stored cart line; lines written before money was kept in cents read as the nearest cent.
fn line_from_item(mut item: Item) -> Result<CartLine, StoreError> {
    crate::money::upgrade_legacy(&mut item, &["unit_price"]);
    store::from_item(item)
}

/// Condition: the line still has the quantity `q` (or is absent when `q` is `None`).
fn unchanged(q: Option<i64>) -> Condition {
    match q {
        Some(q) => Condition::eq("quantity", q),
        None => Condition::ItemNotExists,
    }
}

/// The cart's lines, oldest first.
pub async fn lines(store: &dyn ItemStore, owner: &CartOwner) -> Result<Vec<CartLine>, StoreError> {
    let mut out: Vec<CartLine> = store::query_all(
        store,
        Query::table(owner.pk()).begins_with(keys::CART_LINE_PREFIX),
    )
    .await?
    .into_iter()
    .map(line_from_item)
    .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

async fn line(
    store: &dyn ItemStore,
    owner: &CartOwner,
    product_id: &str,
) -> Result<Option<CartLine>, StoreError> {
    match store
        .get(&Key::new(owner.pk(), keys::cart_line_sk(product_id)))
        .await?
    {
        Some(item) => Ok(Some(line_from_item(item)?)),
        None => Ok(None),
    }
}

async fn sellable(store: &dyn ItemStore, product_id: &str) -> Result<ProductRecord, CartError> {
    catalog::get_product(store, product_id)
        .await?
        .filter(|p| p.is_active)
        .ok_or(CartError::ProductNotFound)
}

fn check_quantity(quantity: i64, product: &ProductRecord) -> Result<(), CartError> {
    if quantity > MAX_QUANTITY {
        return Err(CartError::TooMany);
    }
    let available = if product.in_stock {
        product.stock_quantity.max(0)
    } else {
        0
    };
    if quantity > available {
        return Err(CartError::InsufficientStock { available });
    }
    Ok(())
}

/// Adds `quantity` of a product (merging with an existing line). Returns the line.
pub async fn add(
    store: &dyn ItemStore,
    owner: &CartOwner,
    product_id: &str,
    quantity: i64,
) -> Result<CartLine, CartError> {
    let product = sellable(store, product_id).await?;
    for _ in 0..MAX_RETRIES {
        let current = line(store, owner, product_id).await?;
        if current.is_none() && lines(store, owner).await?.len() >= MAX_LINES {
            return Err(CartError::CartFull);
        }
        let total = current.as_ref().map_or(0, |l| l.quantity) + quantity;
        check_quantity(total, &product)?;
        let now = store::now_rfc3339();
        let new = CartLine {
            id: current
                .as_ref()
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), |l| l.id.clone()),
            product_id: product.id.clone(),
            quantity: total,
            unit_price: product.price,
            created_at: current
                .as_ref()
                .map_or_else(|| now.clone(), |l| l.created_at.clone()),
            updated_at: now,
        };
        let condition = unchanged(current.as_ref().map(|l| l.quantity));
        match store.put(line_item(owner, &new)?, Some(condition)).await {
            Ok(()) => return Ok(new),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Sets the quantity of the line with id `item_id`.
pub async fn set_quantity(
    store: &dyn ItemStore,
    owner: &CartOwner,
    item_id: &str,
    quantity: i64,
) -> Result<CartLine, CartError> {
    for _ in 0..MAX_RETRIES {
        let current = lines(store, owner)
            .await?
            .into_iter()
            .find(|l| l.id == item_id)
            .ok_or(CartError::ItemNotFound)?;
        let product = sellable(store, &current.product_id).await?;
        check_quantity(quantity, &product)?;
        let new = CartLine {
            quantity,
            unit_price: product.price,
            updated_at: store::now_rfc3339(),
            ..current.clone()
        };
        match store
            .put(
                line_item(owner, &new)?,
                Some(unchanged(Some(current.quantity))),
            )
            .await
        {
            Ok(()) => return Ok(new),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Removes every line (in transactions of at most 100 deletes).
pub async fn clear(store: &dyn ItemStore, owner: &CartOwner) -> Result<(), StoreError> {
    let all = lines(store, owner).await?;
    for chunk in all.chunks(100) {
        let ops = chunk
            .iter()
            .map(|l| TxOp::Delete {
                key: Key::new(owner.pk(), keys::cart_line_sk(&l.product_id)),
                condition: None,
            })
            .collect();
        store.transact(ops).await?;
    }
    Ok(())
}

/// Moves a guest cart into a user's cart: quantities of the same product add up (capped at what
/// is in stock, and lines of products no longer sold are dropped), and the guest lines are
/// deleted in the same transaction. Returns how many lines were moved.
pub async fn merge_guest(
    store: &dyn ItemStore,
    guest_cart_id: &str,
    user_id: &str,
) -> Result<usize, CartError> {
    let guest = CartOwner::Guest(guest_cart_id.to_string());
    let user = CartOwner::User(user_id.to_string());
    let mut total_moved = 0;
    for _ in 0..MAX_RETRIES {
        let guest_lines = lines(store, &guest).await?;
        if guest_lines.is_empty() {
            return Ok(total_moved);
        }
        let user_lines = lines(store, &user).await?;
        let mut ops = Vec::new();
        let mut moved = 0;
        let mut user_count = user_lines.len();
        // 2 operations per line, 100 per transaction: merge at most 50 lines per round.
        for g in guest_lines.iter().take(50) {
            ops.push(TxOp::Delete {
                key: Key::new(guest.pk(), keys::cart_line_sk(&g.product_id)),
                condition: Some(unchanged(Some(g.quantity))),
            });
            let Some(product) = catalog::get_product(store, &g.product_id)
                .await?
                .filter(|p| p.is_active)
            else {
                continue;
            };
            let existing = user_lines.iter().find(|l| l.product_id == g.product_id);
            if existing.is_none() && user_count >= MAX_LINES {
                continue;
            }
            let available = if product.in_stock {
                product.stock_quantity.clamp(0, MAX_QUANTITY)
            } else {
                0
            };
            let total = (existing.map_or(0, |l| l.quantity) + g.quantity).min(available);
            if total < 1 {
                continue;
            }
            let now = store::now_rfc3339();
            let new = CartLine {
                id: existing.map_or_else(|| g.id.clone(), |l| l.id.clone()),
                product_id: g.product_id.clone(),
                quantity: total,
                unit_price: product.price,
                created_at: existing.map_or_else(|| g.created_at.clone(), |l| l.created_at.clone()),
                updated_at: now,
            };
            if existing.is_none() {
                user_count += 1;
            }
            ops.push(TxOp::Put {
                item: line_item(&user, &new)?,
                condition: Some(unchanged(existing.map(|l| l.quantity))),
            });
            moved += 1;
        }
        match store.transact(ops).await {
            Ok(()) if guest_lines.len() <= 50 => return Ok(total_moved + moved),
            Ok(()) => total_moved += moved,
            Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

impl From<CartError> for crate::ApiError {
    fn from(e: CartError) -> Self {
        match e {
            CartError::ProductNotFound => Self::not_found("Product not found")
                .with_code(crate::error::ErrorCode::ProductNotFound),
            CartError::ItemNotFound => Self::not_found("Cart item not found")
                .with_code(crate::error::ErrorCode::CartItemNotFound),
            CartError::InsufficientStock { available } => Self::conflict(
                crate::error::ErrorCode::InsufficientStock,
                format!("Only {available} in stock"),
            ),
            CartError::TooMany => {
                Self::invalid_field("quantity", "must be between 1 and 100 in total")
            }
            CartError::CartFull => Self::conflict(
                crate::error::ErrorCode::CartFull,
                "The cart has too many items",
            ),
            CartError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{
        ai::local::LocalEmbedder, domain::catalog::ProductPatch, money::Cents,
        store::local::LocalStore,
    };

    async fn product(store: &dyn ItemStore, code: &str, stock: i64) -> ProductRecord {
        crate::fixtures::product(store, &LocalEmbedder::new(16), code, 2.5, stock).await
    }

    #[tokio::test]
    async fn add_merges_quantities_and_respects_stock() {
        let store = LocalStore::in_memory().unwrap();
        let p = product(&store, "A", 5).await;
        let me = CartOwner::User("u1".into());
        let first = add(&store, &me, &p.id, 2).await.unwrap();
        let second = add(&store, &me, &p.id, 3).await.unwrap();
        assert_eq!(second.quantity, 5);
        assert_eq!(second.id, first.id, "same line");
        assert!(matches!(
            add(&store, &me, &p.id, 1).await,
            Err(CartError::InsufficientStock { available: 5 })
        ));
        assert!(matches!(
            add(&store, &me, "missing", 1).await,
            Err(CartError::ProductNotFound)
        ));
        let l = lines(&store, &me).await.unwrap();
        assert_eq!(
            (l.len(), l[0].quantity, l[0].unit_price),
            (1, 5, Cents(250))
        );

        let l = set_quantity(&store, &me, &first.id, 1).await.unwrap();
        assert_eq!(l.quantity, 1);
        assert!(matches!(
            set_quantity(&store, &me, &first.id, 6).await,
            Err(CartError::InsufficientStock { .. })
        ));
        assert!(matches!(
            set_quantity(&store, &me, "nope", 1).await,
            Err(CartError::ItemNotFound)
        ));
        // Another user's cart is separate.
        assert!(
            lines(&store, &CartOwner::User("u2".into()))
                .await
                .unwrap()
                .is_empty()
        );
        clear(&store, &me).await.unwrap();
        assert!(lines(&store, &me).await.unwrap().is_empty());

        // A product switched off cannot be added.
        let e = LocalEmbedder::new(16);
        let patch = ProductPatch {
            in_stock: Some(false),
            ..Default::default()
        };
        catalog::update_product(&store, &e, &p.id, &patch)
            .await
            .unwrap();
        assert!(matches!(
            add(&store, &me, &p.id, 1).await,
            Err(CartError::InsufficientStock { available: 0 })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_adds_to_one_line_all_count() {
        let store: Arc<dyn ItemStore> = Arc::new(LocalStore::in_memory().unwrap());
        let p = product(store.as_ref(), "B", 100).await;
        let me = CartOwner::Guest("g1".into());
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (store, me, id) = (store.clone(), me.clone(), p.id.clone());
                tokio::spawn(async move { add(store.as_ref(), &me, &id, 1).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let l = lines(store.as_ref(), &me).await.unwrap();
        assert_eq!((l.len(), l[0].quantity), (1, 10));
    }

    #[tokio::test]
    async fn a_guest_cart_merges_into_the_users_cart() {
        let store = LocalStore::in_memory().unwrap();
        let a = product(&store, "A", 4).await;
        let b = product(&store, "B", 10).await;
        let guest = CartOwner::Guest("g".into());
        let user = CartOwner::User("u".into());
        add(&store, &guest, &a.id, 3).await.unwrap();
        add(&store, &guest, &b.id, 2).await.unwrap();
        add(&store, &user, &a.id, 2).await.unwrap();
        assert_eq!(merge_guest(&store, "g", "u").await.unwrap(), 2);
        let got: Vec<(String, i64)> = lines(&store, &user)
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        assert!(
            got.contains(&(a.id.clone(), 4)),
            "3 + 2 capped at stock 4: {got:?}"
        );
        assert!(got.contains(&(b.id.clone(), 2)), "{got:?}");
        assert!(lines(&store, &guest).await.unwrap().is_empty());
        assert_eq!(
            merge_guest(&store, "g", "u").await.unwrap(),
            0,
            "nothing left"
        );
        // Guest lines carry an expiry; user lines do not.
        let raw = store
            .get(&Key::new(
                keys::guest_cart_pk("x"),
                keys::cart_line_sk(&a.id),
            ))
            .await
            .unwrap();
        assert!(raw.is_none());
        add(&store, &CartOwner::Guest("x".into()), &a.id, 1)
            .await
            .unwrap();
        let raw = store
            .get(&Key::new(
                keys::guest_cart_pk("x"),
                keys::cart_line_sk(&a.id),
            ))
            .await
            .unwrap()
            .unwrap();
        assert!(raw[EXPIRES_AT].as_i64().unwrap() > now_epoch());
    }
}
