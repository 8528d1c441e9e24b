//! Importing historical orders.
//!
//! One row per order line: `order_id` (the source system's id), `user_id`, `created_at` (ISO
//! 8601, a date or epoch seconds), `status` (`pending`, `confirmed`, `shipped`, `delivered`,
//! `cancelled`), `product_id` (a product in the store), `quantity` (1-100,000), `unit_price` (the
//! catalog's money format, `19.99`, >= 0); optional `payment_method` (default `credit_card`),
//! `tax_amount` and `shipping_amount` (default 0). The lines of one order are consecutive rows and
//! agree on `user_id`, `created_at`, `status` and `payment_method`; an order has at most
//! [`MAX_LINES`] lines.
//!
//! Each order is written by [`orders::import_historical`]: the order with its lines as given
//! (prices from the file, not the catalog), **stock untouched**, the products' sales counts and the
//! co-purchase counters as a new order moves them; then, for an order that is not cancelled, one
//! `purchase` interaction per line at the order's time (through [`interactions::record`]). An
//! order whose id is already in the store is skipped, its interactions too (a retried import). The
//! user is not checked against the users (orders can come before their users). Orders have no
//! address in most exports: the stored addresses say `unknown`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::{
    BATCH, Context, ImportError, ImportKind, ImportReport, Problems, Source, WrittenCounts,
    changed,
    records::{Fields, stored_time},
    retrying,
};
use crate::{
    domain::{
        catalog,
        interactions::{self, Actor, InteractionKind, Signal},
        orders::{
            self, OrderAddress, OrderError, OrderLine, OrderRecord, OrderStatus, PAYMENT_METHODS,
        },
    },
    error::FieldError,
    money::Cents,
    store::{ItemStore, StoreError},
};

/// Lines of one imported order (its transaction writes one operation per distinct product plus
/// three, within DynamoDB's 100).
pub const MAX_LINES: usize = 90;
/// Orders written at once.
const WRITE_CONCURRENCY: usize = 8;

/// One line and the order fields it carries.
struct LineRow {
    row: usize,
    order_id: String,
    user_id: String,
    created_at: DateTime<Utc>,
    status: OrderStatus,
    payment_method: String,
    tax: Cents,
    shipping: Cents,
    product_id: String,
    quantity: i64,
    unit_price: Cents,
}

impl LineRow {
    /// The order-level fields, for comparing lines of one order.
    fn header(&self) -> (&str, DateTime<Utc>, OrderStatus, &str, Cents, Cents) {
        (
            &self.user_id,
            self.created_at,
            self.status,
            &self.payment_method,
            self.tax,
            self.shipping,
        )
    }
}

fn parse(row: usize, rec: &Map<String, Value>) -> Result<LineRow, Vec<FieldError>> {
    let mut f = Fields::new(row, rec);
    let order_id = f.id("order_id");
    let user_id = f.id("user_id");
    let created_at = f.opt_time("created_at");
    if created_at.is_none() && !f.has("created_at") {
        f.error("created_at", "is required");
    }
    let status = f.text("status", 20).and_then(|s| {
        let st = OrderStatus::ALL.into_iter().find(|o| o.as_str() == s);
        if st.is_none() {
            f.error(
                "status",
                "must be pending, confirmed, shipped, delivered or cancelled",
            );
        }
        st
    });
    let payment_method = f
        .opt_text("payment_method", 40)
        .unwrap_or_else(|| "credit_card".to_string());
    if !PAYMENT_METHODS.contains(&payment_method.as_str()) {
        f.error(
            "payment_method",
            format!("must be one of {}", PAYMENT_METHODS.join(", ")),
        );
    }
    let product_id = f.id("product_id");
    let quantity = f.opt_int("quantity", 1, 100_000);
    if quantity.is_none() && !f.has("quantity") {
        f.error("quantity", "is required");
    }
    let unit_price = f.opt_money("unit_price");
    if unit_price.is_none() && !f.has("unit_price") {
        f.error("unit_price", "is required");
    }
    let tax = f.opt_money("tax_amount").unwrap_or(Cents::ZERO);
    let shipping = f.opt_money("shipping_amount").unwrap_or(Cents::ZERO);
    let value = match (
        order_id, user_id, created_at, status, product_id, quantity, unit_price,
    ) {
        (
            Some(order_id),
            Some(user_id),
            Some(created_at),
            Some(status),
            Some(product_id),
            Some(quantity),
            Some(unit_price),
        ) => Some(LineRow {
            row,
            order_id,
            user_id,
            created_at,
            status,
            payment_method,
            tax,
            shipping,
            product_id,
            quantity,
            unit_price,
        }),
        _ => None,
    };
    f.finish(value)
}

pub(super) async fn run(
    ctx: &Context<'_>,
    source: &Source<'_>,
) -> Result<ImportReport, ImportError> {
    // Pass 1: validate rows, the grouping of lines into orders, and the products.
    let mut problems = Problems::default();
    let mut known = HashSet::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<LineRow> = None;
    let mut lines_in_current = 0usize;
    let mut rows = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    for rec in source.rows()? {
        rows += 1;
        match rec.map(|(row, m)| parse(row, &m)) {
            Err(e) => problems.push(e),
            Ok(Err(es)) => problems.extend(es),
            Ok(Ok(line)) => {
                let same = current
                    .as_ref()
                    .is_some_and(|c| c.order_id == line.order_id);
                if same {
                    lines_in_current += 1;
                    if let Some(first) = &current
                        && first.header() != line.header()
                    {
                        problems.row(
                            line.row,
                            "order_id",
                            format!(
                                "lines of order {} disagree on user_id, created_at, status, \
                                 payment_method, tax_amount or shipping_amount (see row {})",
                                line.order_id, first.row
                            ),
                        );
                    }
                    if lines_in_current == MAX_LINES + 1 {
                        problems.row(
                            line.row,
                            "order_id",
                            format!("an order has at most {MAX_LINES} lines"),
                        );
                    }
                } else {
                    if finished.contains(&line.order_id) {
                        problems.row(
                            line.row,
                            "order_id",
                            format!("lines of order {} must be consecutive rows", line.order_id),
                        );
                    }
                    if let Some(prev) = current.take() {
                        finished.insert(prev.order_id);
                    }
                    lines_in_current = 1;
                }
                batch.push((line.row, line.product_id.clone()));
                if !same {
                    current = Some(line);
                }
            }
        }
        if batch.len() >= BATCH {
            super::check_products(ctx.store, &batch, &mut known, &mut problems).await?;
            batch.clear();
        }
        if problems.full() {
            break;
        }
    }
    if !batch.is_empty() && !problems.full() {
        super::check_products(ctx.store, &batch, &mut known, &mut problems).await?;
    }
    problems.finish(rows)?;
    drop(finished);

    // Pass 2: group lines into orders, write BATCH orders at a time.
    let mut report = ImportReport {
        kind: ImportKind::Orders,
        rows: rows as u64,
        written: WrittenCounts::default(),
        skipped: 0,
    };
    let mut order: Vec<LineRow> = Vec::new();
    let mut ready: Vec<Vec<LineRow>> = Vec::new();
    let mut all = source.rows()?.peekable();
    while let Some(rec) = all.next() {
        let (row, m) = rec.map_err(|_| changed(0))?;
        let line = parse(row, &m).map_err(|_| changed(row))?;
        if order.first().is_some_and(|o| o.order_id != line.order_id) {
            ready.push(std::mem::take(&mut order));
        }
        order.push(line);
        if all.peek().is_none() {
            ready.push(std::mem::take(&mut order));
        }
        if ready.len() >= BATCH || (all.peek().is_none() && !ready.is_empty()) {
            write_batch(ctx.store, std::mem::take(&mut ready), &mut report).await?;
        }
    }
    Ok(report)
}

fn unknown_address() -> OrderAddress {
    OrderAddress {
        name: None,
        street: "unknown".into(),
        city: "unknown".into(),
        state: "unknown".into(),
        zip_code: "unknown".into(),
        country: "unknown".into(),
    }
}

fn record_of(lines: &[LineRow], names: &HashMap<String, String>) -> Option<OrderRecord> {
    let first = lines.first()?;
    let items: Vec<OrderLine> = lines
        .iter()
        .map(|l| OrderLine {
            id: uuid::Uuid::new_v4().to_string(),
            product_id: l.product_id.clone(),
            product_name: names.get(&l.product_id).cloned().unwrap_or_default(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            total_price: l.unit_price.times(l.quantity),
        })
        .collect();
    let subtotal: Cents = items.iter().map(|i| i.total_price).sum();
    let at = stored_time(first.created_at);
    Some(OrderRecord {
        id: first.order_id.clone(),
        order_number: orders::order_number(first.created_at),
        user_id: first.user_id.clone(),
        subtotal,
        tax_amount: first.tax,
        shipping_amount: first.shipping,
        total_amount: subtotal + first.tax + first.shipping,
        status: first.status,
        payment_status: if first.status == OrderStatus::Cancelled {
            "cancelled".into()
        } else {
            "paid".into()
        },
        payment_method: first.payment_method.clone(),
        billing_address: unknown_address(),
        shipping_address: unknown_address(),
        recommendation_source: None,
        recommendation_session_id: None,
        order_notes: None,
        items,
        admin_notes: Some("imported".into()),
        created_at: at.clone(),
        updated_at: at,
    })
}

async fn write_batch(
    store: &dyn ItemStore,
    batch: Vec<Vec<LineRow>>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let ids: Vec<String> = batch
        .iter()
        .flatten()
        .map(|l| l.product_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<String, String> = catalog::get_products(store, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let records: Vec<OrderRecord> = batch.iter().filter_map(|o| record_of(o, &names)).collect();
    let outcomes = futures::stream::iter(records.into_iter().map(|order| async move {
        let written = retrying(
            || orders::import_historical(store, &order),
            |e| matches!(e, OrderError::Store(StoreError::TransactionConflict)),
        )
        .await
        .map_err(|e| ImportError::Write(format!("order {}: {e}", order.id)))?;
        let mut signals = 0u64;
        if written && order.status != OrderStatus::Cancelled {
            let at = chrono::DateTime::parse_from_rfc3339(&order.created_at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now());
            let purchases: Vec<Signal> = order
                .items
                .iter()
                .map(|l| {
                    Signal::new(
                        Actor::User(order.user_id.clone()),
                        l.product_id.clone(),
                        InteractionKind::Purchase,
                    )
                    .at(at)
                })
                .collect();
            interactions::record(store, &purchases).await?;
            signals = purchases.len() as u64;
        }
        Ok::<_, ImportError>((written, order.items.len() as u64, signals))
    }))
    .buffer_unordered(WRITE_CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await?;
    for (written, lines, signals) in outcomes {
        if written {
            report.written.orders += 1;
            report.written.order_lines += lines;
            report.written.interactions += signals;
        } else {
            report.skipped += 1;
        }
    }
    Ok(())
}
