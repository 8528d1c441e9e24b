//! Orders: created from a cart in one transaction.
//!
//! The transaction that places an order:
//! - decrements each product's stock with `ADD stock_quantity -q` under the condition that at least
//!   `q` are left and the product is active and switched on (so stock never goes below zero, however
//!   many orders race), and counts the sale (`order_count`, `basket_count`), on the product's
//!   counter item (no index keys), with a check that the product item is active and in stock;
//! - writes the order (its lines inside it) and a unique order-number marker;
//! - deletes the cart lines it was made from, each conditioned on the quantity that was read;
//! - with an idempotency key, writes a marker `(user, key) -> order id`: a retry with the same key
//!   finds the marker and gets the same order back instead of a second one.
//!
//! If any condition fails nothing is written. Once the order is written, its co-purchase counts
//! and its recommendation conversions (`rec_tracking::attribute_order_logged`: the list named by
//! `recommendation_session_id`, or one the user clicked the product in within 24 hours) are
//! recorded concurrently; neither can fail the order.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::interactions::{Actor, InteractionKind, Signal};
use crate::{
    domain::{
        cart::{self, CartOwner},
        catalog, rec_tracking, stats,
    },
    money::{self, Cents},
    store::{
        self, Condition, EXPIRES_AT, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Item, ItemStore, Key, PK,
        Query, SK, StoreError, TxOp, Update, keys, now_epoch,
    },
};

/// Sales tax applied to the subtotal, in percent (the spec's example: 8%, truncated to the cent).
pub const TAX_PERCENT: i64 = 8;
/// Shipping when it is not free (free: cash on delivery over [`FREE_SHIPPING_OVER`]).
pub const FLAT_SHIPPING: Cents = Cents(599);
pub const FREE_SHIPPING_OVER: Cents = Cents(5000);
/// Lines per order: two transaction operations each, plus at most six for the order, its markers
/// and counters, within DynamoDB's 100.
pub const MAX_ORDER_LINES: usize = 45;
/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;

pub const PAYMENT_METHODS: [&str; 9] = [
    "cash_on_delivery",
    "credit_card",
    "debit_card",
    "paypal",
    "bank_transfer",
    "apple_pay",
    "google_pay",
    "upi",
    "wallet",
];

/// Where an order is in its life (stored and answered as the lower-case name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    Shipped,
    Delivered,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Whether an order may move from `self` to `to`: pending -> confirmed -> shipped ->
    /// delivered, pending -> shipped (confirming is optional), and cancelled from pending or
    /// confirmed.
    pub fn can_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Confirmed)
                | (Pending | Confirmed, Shipped)
                | (Shipped, Delivered)
                | (Pending | Confirmed, Cancelled)
        )
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = validator::ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                validator::ValidationError::new("status")
                    .with_message(format!("must be one of {}", names.join(", ")).into())
            })
    }
}

/// Validator rule: the name of an [`OrderStatus`].
pub fn validate_status(v: &str) -> Result<(), validator::ValidationError> {
    v.parse::<OrderStatus>().map(|_| ())
}

/// A postal address on an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Validate)]
pub struct OrderAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    #[validate(length(min = 1, max = 200, message = "must be 1-200 characters"))]
    pub street: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub city: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub state: String,
    #[schema(min_length = 1, max_length = 20)]
    #[validate(length(min = 1, max = 20, message = "must be 1-20 characters"))]
    pub zip_code: String,
    #[schema(min_length = 2, max_length = 56)]
    #[validate(length(min = 2, max = 56, message = "must be 2-56 characters"))]
    pub country: String,
}

/// One line of an order as stored (money in cents: `unit_price_cents`, `total_price_cents`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub quantity: i64,
    #[serde(rename = "unit_price_cents")]
    pub unit_price: Cents,
    #[serde(rename = "total_price_cents")]
    pub total_price: Cents,
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: String,
    pub order_number: String,
    pub user_id: String,
    /// Money in cents, stored as `subtotal_cents`, `tax_amount_cents`, ... (older items: decimal
    /// attributes without the suffix, see [`order_from_item`]).
    #[serde(rename = "subtotal_cents")]
    pub subtotal: Cents,
    #[serde(rename = "tax_amount_cents")]
    pub tax_amount: Cents,
    #[serde(rename = "shipping_amount_cents")]
    pub shipping_amount: Cents,
    #[serde(rename = "total_amount_cents")]
    pub total_amount: Cents,
    pub status: OrderStatus,
    pub payment_status: String,
    pub payment_method: String,
    pub billing_address: OrderAddress,
    pub shipping_address: OrderAddress,
    #[serde(default)]
    pub recommendation_source: Option<String>,
    #[serde(default)]
    pub recommendation_session_id: Option<String>,
    #[serde(default)]
    pub order_notes: Option<String>,
    pub items: Vec<OrderLine>,
    #[serde(default)]
    pub admin_notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What an order is placed with (validated by the handler).
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub user_id: String,
    pub billing_address: OrderAddress,
    pub shipping_address: OrderAddress,
    pub payment_method: String,
    pub recommendation_source: Option<String>,
    pub recommendation_session_id: Option<String>,
    pub order_notes: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("the cart is empty")]
    EmptyCart,
    #[error("the cart has more than {MAX_ORDER_LINES} lines")]
    TooManyLines,
    #[error("not enough stock of {product_name}")]
    InsufficientStock {
        product_id: String,
        product_name: String,
    },
    #[error("a product in the cart is no longer sold")]
    ProductUnavailable { product_id: String },
    #[error("the cart changed while the order was placed")]
    CartChanged,
    #[error("order not found")]
    NotFound,
    #[error("an order cannot go from {from} to {to}")]
    IllegalTransition { from: OrderStatus, to: OrderStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// (tax, shipping) for a subtotal and payment method.
pub fn charges(subtotal: Cents, payment_method: &str) -> (Cents, Cents) {
    // Truncated to the cent: the spec's example has 1999.98 -> 159.99.
    let tax = subtotal.percent_floor(TAX_PERCENT);
    let shipping = if payment_method == "cash_on_delivery" && subtotal > FREE_SHIPPING_OVER {
        Cents::ZERO
    } else {
        FLAT_SHIPPING
    };
    (tax, shipping)
}

/// `ORD-YYYYMMDD-XXXXXX` with six random upper-case letters and digits.
pub fn order_number(now: chrono::DateTime<chrono::Utc>) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let random = uuid::Uuid::new_v4();
    let suffix: String = random.as_bytes()[..6]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("ORD-{}-{suffix}", now.format("%Y%m%d"))
}

fn order_item(o: &OrderRecord) -> Result<Item, StoreError> {
    let mut item = store::to_item(o)?;
    let key = keys::order(&o.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "order".into());
    let sk = keys::orders_index_sk(&o.created_at, &o.id);
    item.insert(GSI1PK.into(), keys::user_orders_pk(&o.user_id).into());
    item.insert(GSI1SK.into(), sk.clone().into());
    item.insert(GSI2PK.into(), keys::ALL_ORDERS_PK.into());
    item.insert(GSI2SK.into(), sk.into());
    let ids: Vec<Value> = o
        .items
        .iter()
        .map(|i| Value::from(i.product_id.as_str()))
        .collect();
    item.insert(PRODUCT_IDS.into(), Value::Array(ids));
    Ok(item)
}

/// A stored order item as a record; orders written before money was kept in cents (decimal
/// `subtotal`, `total_amount`, line `unit_price`, ...) read as the nearest cent.
pub fn order_from_item(mut item: Item) -> Result<OrderRecord, StoreError> {
    money::upgrade_legacy(
        &mut item,
        &["subtotal", "tax_amount", "shipping_amount", "total_amount"],
    );
    if let Some(Value::Array(lines)) = item.get_mut("items") {
        for line in lines.iter_mut().filter_map(Value::as_object_mut) {
            money::upgrade_legacy(line, &["unit_price", "total_price"]);
        }
    }
    store::from_item(item)
}

/// Attribute of a stored order with just the product ids of its lines, so that jobs reading
/// every order (basket mining) can project to it instead of decoding the whole lines.
pub const PRODUCT_IDS: &str = "product_ids";

fn marker(key: Key, order_id: &str, expires_at: Option<i64>) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("order_id".into(), order_id.into());
    if let Some(at) = expires_at {
        item.insert(EXPIRES_AT.into(), at.into());
    }
    item
}

/// The order with `id`.
pub async fn get(store: &dyn ItemStore, id: &str) -> Result<Option<OrderRecord>, StoreError> {
    match store.get(&keys::order(id)).await? {
        Some(item) => Ok(Some(order_from_item(item)?)),
        None => Ok(None),
    }
}

/// The order an earlier request with this idempotency key placed, if any.
pub async fn idempotent_order(
    store: &dyn ItemStore,
    user_id: &str,
    key: &str,
) -> Result<Option<OrderRecord>, StoreError> {
    let Some(m) = store.get(&keys::idempotency(user_id, key)).await? else {
        return Ok(None);
    };
    match m.get("order_id").and_then(Value::as_str) {
        Some(id) => get(store, id).await,
        None => Ok(None),
    }
}

/// The stats counter of placed orders (`N`, the number of baskets, for association measures),
/// also counted per hour.
pub const ORDERS_COUNTER: &str = "orders";
/// The hourly stats counter of orders paid cash on delivery.
pub const COD_ORDERS_COUNTER: &str = "cod_orders";
/// Pairs counted per order: the first lines of bigger orders only, to bound the writes.
const CO_PURCHASE_MAX_LINES: usize = 10;

/// Adds one to the co-purchase count of every ordered pair of distinct products in the order.
///
/// These counters feed "frequently bought together" until the mining job has produced a rule
/// set. They are statistics, written after the order's transaction with one atomic `ADD` each
/// (an order of n lines would need n(n-1) more operations than a transaction holds): a crash in
/// between loses those counts, never an order, and the next mining run recomputes everything from
/// the orders themselves. Failures are logged, never returned.
async fn record_co_purchases(store: &dyn ItemStore, order: &OrderRecord) {
    let mut ids: Vec<&str> = order.items.iter().map(|i| i.product_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(CO_PURCHASE_MAX_LINES);
    let pairs: Vec<Key> = ids
        .iter()
        .flat_map(|a| {
            ids.iter()
                .filter(move |b| *b != a)
                .map(move |b| keys::co_purchase(a, b))
        })
        .collect();
    let writes = pairs
        .iter()
        .map(|key| store.update(key, Update::new().add("count", 1), None));
    for result in futures::future::join_all(writes).await {
        if let Err(e) = result {
            tracing::warn!(error = %e, order_id = %order.id, "co-purchase count not recorded");
        }
    }
}

/// Places an order from the user's cart. Returns the order and whether it was created now
/// (`false`: an earlier request with the same idempotency key created it).
pub async fn place(
    store: &dyn ItemStore,
    req: PlaceOrder,
) -> Result<(OrderRecord, bool), OrderError> {
    if let Some(key) = &req.idempotency_key
        && let Some(existing) = idempotent_order(store, &req.user_id, key).await?
    {
        return Ok((existing, false));
    }
    place_from(store, &req, Source::Cart, None, None).await
}

/// Places an order of `lines` (product id, quantity) without reading or touching the user's cart,
/// under the given order id: the order is placed once whatever the number of calls (a call that
/// finds the order already there returns it with `false`). For seeding and imports, which must
/// never take or empty a cart that a user filled.
pub async fn place_lines(
    store: &dyn ItemStore,
    req: PlaceOrder,
    lines: &[(String, i64)],
    order_id: &str,
) -> Result<(OrderRecord, bool), OrderError> {
    place_lines_at(store, req, lines, order_id, None).await
}

/// [`place_lines`] with the order's `created_at` (and number) at `at` instead of now: demo
/// orders spread over past days.
pub async fn place_lines_at(
    store: &dyn ItemStore,
    req: PlaceOrder,
    lines: &[(String, i64)],
    order_id: &str,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(OrderRecord, bool), OrderError> {
    if let Some(existing) = get(store, order_id).await? {
        return Ok((existing, false));
    }
    place_from(store, &req, Source::Lines(lines), Some(order_id), at).await
}

/// Where the lines of an order come from.
enum Source<'a> {
    /// The user's cart: its lines are deleted in the order's transaction.
    Cart,
    /// Given lines (product id, quantity); no cart is read or written.
    Lines(&'a [(String, i64)]),
}

/// The counters an order moves, inside its transaction: the total of orders and this hour's
/// orders, and this hour's cash-on-delivery orders (the admin status' 24-hour figures).
fn order_counters(payment_method: &str) -> Vec<TxOp> {
    let mut ops = vec![
        stats::total_add(ORDERS_COUNTER, 1),
        stats::hourly_add(ORDERS_COUNTER, 1),
    ];
    if payment_method == "cash_on_delivery" {
        ops.push(stats::hourly_add(COD_ORDERS_COUNTER, 1));
    }
    ops
}

async fn place_from(
    store: &dyn ItemStore,
    req: &PlaceOrder,
    source: Source<'_>,
    order_id: Option<&str>,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(OrderRecord, bool), OrderError> {
    const ATTEMPTS: usize = 5;
    let owner = CartOwner::User(req.user_id.clone());
    for _ in 0..ATTEMPTS {
        let lines: Vec<(String, i64)> = match source {
            Source::Cart => cart::lines(store, &owner)
                .await?
                .into_iter()
                .map(|l| (l.product_id, l.quantity))
                .collect(),
            Source::Lines(lines) => lines.to_vec(),
        };
        if lines.is_empty() {
            return Err(OrderError::EmptyCart);
        }
        if lines.len() > MAX_ORDER_LINES {
            return Err(OrderError::TooManyLines);
        }
        let ids: Vec<String> = lines.iter().map(|(id, _)| id.clone()).collect();
        let products = catalog::get_products(store, &ids).await?;
        let mut items = Vec::with_capacity(lines.len());
        for (product_id, quantity) in &lines {
            let p = products
                .iter()
                .find(|p| &p.id == product_id && p.is_active)
                .ok_or_else(|| OrderError::ProductUnavailable {
                    product_id: product_id.clone(),
                })?;
            items.push(OrderLine {
                id: uuid::Uuid::new_v4().to_string(),
                product_id: p.id.clone(),
                product_name: p.name.clone(),
                quantity: *quantity,
                unit_price: p.price,
                total_price: p.price.times(*quantity),
            });
        }
        let subtotal: Cents = items.iter().map(|i| i.total_price).sum();
        let (tax_amount, shipping_amount) = charges(subtotal, &req.payment_method);
        let now = at.unwrap_or_else(chrono::Utc::now);
        let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let order = OrderRecord {
            id: order_id.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string),
            order_number: order_number(now),
            user_id: req.user_id.clone(),
            subtotal,
            tax_amount,
            shipping_amount,
            total_amount: subtotal + tax_amount + shipping_amount,
            status: OrderStatus::Pending,
            // Cash and bank transfers are paid later; the other methods are confirmed by the
            // client's payment step before the order is placed (no gateway is integrated).
            payment_status: if matches!(
                req.payment_method.as_str(),
                "cash_on_delivery" | "bank_transfer"
            ) {
                "pending".into()
            } else {
                "paid".into()
            },
            payment_method: req.payment_method.clone(),
            billing_address: req.billing_address.clone(),
            shipping_address: req.shipping_address.clone(),
            recommendation_source: req.recommendation_source.clone(),
            recommendation_session_id: req.recommendation_session_id.clone(),
            order_notes: req.order_notes.clone(),
            items,
            admin_notes: None,
            created_at: created_at.clone(),
            updated_at: created_at,
        };

        let mut ops = Vec::with_capacity(3 * lines.len() + 6);
        // Stock and sales on the counter items (no index keys); the product items (active, in
        // stock) only checked. Line `i` has the update `i` and the check `lines.len() + i`.
        for (product_id, quantity) in &lines {
            ops.push(TxOp::Update {
                key: keys::product_counters(product_id),
                update: Update::new()
                    .add("stock_quantity", -quantity)
                    .add("order_count", *quantity)
                    .add("basket_count", 1),
                condition: Some(Condition::ge("stock_quantity", *quantity)),
            });
        }
        for (product_id, _) in &lines {
            ops.push(TxOp::Check {
                key: keys::product(product_id),
                condition: Condition::And(vec![
                    Condition::eq("is_active", true),
                    Condition::eq("in_stock", true),
                ]),
            });
        }
        let stock_ops = ops.len();
        if let Source::Cart = source {
            for (product_id, quantity) in &lines {
                ops.push(TxOp::Delete {
                    key: Key::new(
                        keys::user_cart_pk(&req.user_id),
                        keys::cart_line_sk(product_id),
                    ),
                    condition: Some(Condition::eq("quantity", *quantity)),
                });
            }
        }
        let order_index = ops.len();
        ops.push(TxOp::Put {
            item: order_item(&order)?,
            condition: Some(Condition::ItemNotExists),
        });
        ops.push(TxOp::Put {
            item: marker(
                keys::order_number_marker(&order.order_number),
                &order.id,
                None,
            ),
            condition: Some(Condition::ItemNotExists),
        });
        ops.extend(order_counters(&req.payment_method));
        let idempotency_index = req.idempotency_key.as_ref().map(|key| {
            ops.push(TxOp::Put {
                item: marker(
                    keys::idempotency(&req.user_id, key),
                    &order.id,
                    Some(now_epoch() + IDEMPOTENCY_TTL_SECONDS),
                ),
                condition: Some(Condition::ItemNotExists),
            });
            ops.len() - 1
        });

        match store.transact(ops).await {
            Ok(()) => {
                // Statistics after the order is written, concurrently; neither can fail the
                // order, and the attribution is bounded (`rec_tracking::ATTRIBUTION_BUDGET`).
                tokio::join!(
                    record_co_purchases(store, &order),
                    rec_tracking::attribute_order_logged(store, &order),
                    crate::domain::segments::hooks::on_order(store, &order, 1)
                );
                return Ok((order, true));
            }
            Err(StoreError::TransactionCanceled { failed }) => {
                if let Some(i) = idempotency_index
                    && failed.contains(&i)
                    && let Some(key) = &req.idempotency_key
                    && let Some(existing) = idempotent_order(store, &req.user_id, key).await?
                {
                    return Ok((existing, false));
                }
                if order_id.is_some()
                    && failed.contains(&order_index)
                    && let Some(existing) = get(store, &order.id).await?
                {
                    return Ok((existing, false));
                }
                if let Some(&i) = failed.iter().find(|&&i| i < stock_ops) {
                    let (product_id, _) = &lines[i % lines.len()];
                    let name = order
                        .items
                        .iter()
                        .find(|it| &it.product_id == product_id)
                        .map(|it| it.product_name.clone())
                        .unwrap_or_default();
                    return Err(OrderError::InsufficientStock {
                        product_id: product_id.clone(),
                        product_name: name,
                    });
                }
                // The cart changed, or an order number collided: read everything again.
            }
            Err(StoreError::TransactionConflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(OrderError::CartChanged)
}

/// The orders with `status` (all when `None`), one page of them (`page` from 1) and how many match.
fn page_of(
    all: Vec<OrderRecord>,
    status: Option<OrderStatus>,
    page: usize,
    page_size: usize,
) -> (Vec<OrderRecord>, usize) {
    let matching: Vec<OrderRecord> = all
        .into_iter()
        .filter(|o| status.is_none_or(|s| o.status == s))
        .collect();
    let total = matching.len();
    let start = page.saturating_sub(1).saturating_mul(page_size);
    (
        matching.into_iter().skip(start).take(page_size).collect(),
        total,
    )
}

/// The user's orders, newest first, optionally with one status; one page and the total.
pub async fn list_for_user(
    store: &dyn ItemStore,
    user_id: &str,
    status: Option<OrderStatus>,
    page: usize,
    page_size: usize,
) -> Result<(Vec<OrderRecord>, usize), StoreError> {
    let all: Vec<OrderRecord> =
        store::query_all(store, Query::gsi1(keys::user_orders_pk(user_id)).reverse())
            .await?
            .into_iter()
            .map(order_from_item)
            .collect::<Result<_, _>>()?;
    Ok(page_of(all, status, page, page_size))
}

/// The interaction-log signals of an order: one purchase per line by its customer, `count` 1 when
/// the order is placed, -1 when it is cancelled (withdrawn). Quantities do not matter: a line is
/// one purchase.
pub fn purchase_signals(order: &OrderRecord, count: i64) -> Vec<Signal> {
    order
        .items
        .iter()
        .map(|line| {
            Signal::new(
                Actor::User(order.user_id.clone()),
                line.product_id.clone(),
                InteractionKind::Purchase,
            )
            .count(count)
        })
        .collect()
}

/// Moves an order to `status` (see [`OrderStatus::can_become`]), conditioned on the status it
/// was read with. Cancelling puts the stock back in the same transaction.
pub async fn update_status(
    store: &dyn ItemStore,
    id: &str,
    status: OrderStatus,
    admin_notes: Option<String>,
) -> Result<OrderRecord, OrderError> {
    Ok(update_status_from(store, id, status, admin_notes).await?.0)
}

/// [`update_status`], also answering the status the order moved from (for analytics).
pub async fn update_status_from(
    store: &dyn ItemStore,
    id: &str,
    status: OrderStatus,
    admin_notes: Option<String>,
) -> Result<(OrderRecord, OrderStatus), OrderError> {
    for _ in 0..5 {
        let old = get(store, id).await?.ok_or(OrderError::NotFound)?;
        if !old.status.can_become(status) {
            return Err(OrderError::IllegalTransition {
                from: old.status,
                to: status,
            });
        }
        let mut new = old.clone();
        new.status = status;
        if admin_notes.is_some() {
            new.admin_notes = admin_notes.clone();
        }
        new.updated_at = store::now_rfc3339();
        let mut ops = vec![TxOp::Put {
            item: order_item(&new)?,
            condition: Some(Condition::eq("status", old.status.as_str())),
        }];
        if status == OrderStatus::Cancelled {
            for line in &old.items {
                ops.push(TxOp::Update {
                    key: keys::product_counters(&line.product_id),
                    update: Update::new()
                        .add("stock_quantity", line.quantity)
                        .add("order_count", -line.quantity),
                    condition: Some(Condition::ItemExists),
                });
            }
        }
        match store.transact(ops).await {
            Ok(()) => {
                if status == OrderStatus::Cancelled {
                    crate::domain::segments::hooks::on_order(store, &old, -1).await;
                }
                return Ok((new, old.status));
            }
            Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::TransactionConflict.into())
}

/// Every order, newest first, optionally with one status; one page and the total (admins).
///
/// Reads the `ORDERS` partition of GSI2 and filters in memory: fine for the order volumes of the
/// demo and small shops; a status-keyed index is the next step beyond that.
pub async fn list_all(
    store: &dyn ItemStore,
    status: Option<OrderStatus>,
    page: usize,
    page_size: usize,
) -> Result<(Vec<OrderRecord>, usize), StoreError> {
    let all: Vec<OrderRecord> = store::query_all(store, Query::gsi2(keys::ALL_ORDERS_PK).reverse())
        .await?
        .into_iter()
        .map(order_from_item)
        .collect::<Result<_, _>>()?;
    Ok(page_of(all, status, page, page_size))
}

impl From<OrderError> for crate::ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::EmptyCart => {
                Self::bad_request(crate::error::ErrorCode::CartEmpty, "The cart is empty")
            }
            OrderError::TooManyLines => Self::bad_request(
                crate::error::ErrorCode::CartTooLarge,
                format!("An order can hold at most {MAX_ORDER_LINES} different products"),
            ),
            OrderError::InsufficientStock { product_name, .. } => Self::conflict(
                crate::error::ErrorCode::InsufficientStock,
                format!("Not enough stock of {product_name}"),
            ),
            OrderError::ProductUnavailable { .. } => Self::conflict(
                crate::error::ErrorCode::ProductUnavailable,
                "A product in the cart is no longer sold",
            ),
            OrderError::CartChanged => Self::conflict(
                crate::error::ErrorCode::CartChanged,
                "The cart changed while the order was placed; try again",
            ),
            OrderError::NotFound => {
                Self::not_found("Order not found").with_code(crate::error::ErrorCode::OrderNotFound)
            }
            OrderError::IllegalTransition { from, to } => Self::conflict(
                crate::error::ErrorCode::InvalidStatusTransition,
                format!("An order cannot go from {from} to {to}"),
            ),
            OrderError::Store(e) => e.into(),
        }
    }
}

/// Writes a historical order as it is (bulk import): the order item and its order-number marker,
/// the total of orders (not this hour's: the order is not new), and each product's sales counts
/// (`order_count`, `basket_count`) in one transaction, **without touching stock**; then the
/// co-purchase counters, as [`place`] does. Idempotent on the order id: returns `false` (and
/// writes nothing) when an order with that id is already there.
pub async fn import_historical(
    store: &dyn ItemStore,
    order: &OrderRecord,
) -> Result<bool, OrderError> {
    let mut ops = vec![
        TxOp::Put {
            item: order_item(order)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: marker(
                keys::order_number_marker(&order.order_number),
                &order.id,
                None,
            ),
            condition: Some(Condition::ItemNotExists),
        },
        stats::total_add(ORDERS_COUNTER, 1),
    ];
    // One operation per item in a transaction: lines of the same product are summed.
    let mut sold: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for line in &order.items {
        *sold.entry(line.product_id.as_str()).or_default() += line.quantity;
    }
    for (product_id, quantity) in sold {
        ops.push(TxOp::Update {
            key: keys::product_counters(product_id),
            update: Update::new()
                .add("order_count", quantity)
                .add("basket_count", 1),
            condition: None,
        });
    }
    match store.transact(ops).await {
        Ok(()) => {
            if order.status != OrderStatus::Cancelled {
                record_co_purchases(store, order).await;
                crate::domain::segments::hooks::on_order(store, order, 1).await;
            }
            Ok(true)
        }
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&0) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn charges_follow_the_spec() {
        // The spec's example: 1999.98 -> tax 159.99, free shipping for COD over $50.
        assert_eq!(
            charges(Cents(199_998), "cash_on_delivery"),
            (Cents(15_999), Cents::ZERO)
        );
        assert_eq!(
            charges(Cents(5000), "cash_on_delivery"),
            (Cents(400), FLAT_SHIPPING)
        );
        assert_eq!(
            charges(Cents(10_000), "credit_card"),
            (Cents(800), FLAT_SHIPPING)
        );
        assert_eq!(Cents(199_998) + Cents(15_999), Cents(215_997));
    }

    #[test]
    fn the_status_machine() {
        use OrderStatus::*;
        for (from, to) in [
            (Pending, Confirmed),
            (Pending, Shipped),
            (Confirmed, Shipped),
            (Shipped, Delivered),
            (Pending, Cancelled),
            (Confirmed, Cancelled),
        ] {
            assert!(from.can_become(to), "{from} -> {to}");
        }
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let allowed = matches!(
                    (from, to),
                    (Pending, Confirmed | Shipped | Cancelled)
                        | (Confirmed, Shipped | Cancelled)
                        | (Shipped, Delivered)
                );
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
            }
        }
        for (from, to) in [
            (Pending, Delivered),
            (Shipped, Cancelled),
            (Delivered, Cancelled),
            (Cancelled, Pending),
            (Pending, Pending),
            (Delivered, Shipped),
        ] {
            assert!(!from.can_become(to), "{from} -> {to}");
        }
    }

    #[test]
    fn statuses_keep_their_names() {
        for (status, name) in OrderStatus::ALL.into_iter().zip([
            "pending",
            "confirmed",
            "shipped",
            "delivered",
            "cancelled",
        ]) {
            assert_eq!(status.as_str(), name);
            assert_eq!(serde_json::to_value(status).unwrap(), name);
            assert_eq!(name.parse::<OrderStatus>().unwrap(), status);
            assert_eq!(
                serde_json::from_value::<OrderStatus>(name.into()).unwrap(),
                status
            );
        }
        assert!("lost".parse::<OrderStatus>().is_err());
        assert!(validate_status("Pending").is_err());
        assert!(validate_status("shipped").is_ok());
    }

    #[test]
    fn order_numbers_have_the_spec_shape() {
        let now = chrono::DateTime::parse_from_rfc3339("2025-01-27T10:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let n = order_number(now);
        assert!(n.starts_with("ORD-20250127-"), "{n}");
        let suffix = &n["ORD-20250127-".len()..];
        assert_eq!(suffix.len(), 6);
        assert!(
            suffix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(order_number(now), order_number(now));
    }
}
