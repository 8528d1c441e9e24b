//! Shop analytics (issue 15): daily rollups kept on write, and the readers of the analytics
//! routes (dashboard, KPIs, funnel, cohorts, one user's behaviour).
//!
//! Every write an analytics figure depends on calls [`record`] once with an [`Event`] (user
//! created, login, order placed, order status changed, search logged, search click, product
//! view, cart add; the recommendation counters are `rec_tracking`'s own rollups). The event
//! becomes atomic `ADD`s on rollup items, issued together at the end of the call:
//! - **day totals** (`ANADAY#<day>` / `<shard>`): every request adds to them, so each write
//!   picks one of [`keys::ANALYTICS_SHARDS`] items at random (the video activity pattern) and
//!   readers sum the shards;
//! - **products day** (`ANAPROD#<day>` / `<shard>`): quantity and revenue sold per product, as
//!   attributes of the day's shard items (8 reads a day whatever the catalogue);
//! - **user day** (`ANAUSER#<user>` / `DAY#<day>`): one user's orders, spend, categories,
//!   searches (the behaviour route);
//! - **week** (`ANAWEEK#<Monday>`): sign-ups and cohort activity;
//! - **months** (`ANAMON#<yyyy-mm>` / `<shard>`, `ANAPMON#<yyyy-mm>` / `<shard>`): every `ADD`
//!   of the day totals and products mirrored into the day's month (in the same
//!   `update_many`), so a month item is exactly the sum of its days; the month totals also keep
//!   the daily-list counters per day of the month (`t<dd>_orders`, ...). A window reads whole
//!   months and only the days at its ends ([`window`]): a year is 12 months and about 12 days,
//!   not 365 days. Products are sharded by product on the month items (each product in one
//!   shard, so a month's 8 items hold each product once). The counters that move on past days
//!   all the time ([`attr::is_moving`]: statuses, last-day pointers, activations) are kept on
//!   their own month items (`ANAMONM#<yyyy-mm>` / `<shard>`), so the other month items of
//!   closed months hardly change and each instance caches them ([`month_cache`]).
//!
//! Money is summed in integer cents. A cancelled order is withdrawn from the "kept" figures
//! (revenue, products, categories, the user's spend) on the day it was **placed**, and its
//! status counters move on that day too: a day's figures describe the orders placed that day.
//!
//! **Exact distinct counts.** Per day, a conditional put of a marker item
//! (`ANAUSER#<user>` / `MARK#<day>#<what>`, with a TTL) decides whether a user counts (active,
//! viewed, added to cart, ordered); the query's own marker does the same for unique queries.
//! Over a window of days, distinct counts cannot be summed from daily ones, so each user (and
//! each query) keeps a **pointer** to the last day it did the thing (`STATE` item, moved forward
//! only by a conditional update on the old value); the day item holds how many pointers rest on
//! that day (`*_last`: -1 on the old day, +1 on the new one). The users who did it within the
//! last `d` days are exactly the pointers resting on those days: a sum, so it adds up over
//! months like every other counter (a month's `*_last` is the pointers resting in that month). The first
//! active day is kept the same way (moved backward only), which gives retention (see
//! [`report`]). Cohort activity is a week marker per user and week.
//!
//! Why on write and not from a stream or a nightly job: the figures are read-your-writes (the
//! dashboard shows the order just placed), the local server needs no second code path, and a
//! write is a handful of `ADD`s issued together. Recording never fails the request
//! ([`record_logged`]). The `analytics-rebuild` job ([`rebuild`]) recomputes everything from
//! the raw records (orders, users, search logs and clicks, the interaction log's views and cart
//! adds, login days) after an import or a definition change.
//!
//! Signed-in users only are counted as active / in the funnel / in cohorts: a guest has no
//! user id (their views and cart adds still count in the day totals).

mod counting;
pub mod month_cache;
pub mod rebuild;
pub mod report;
pub mod window;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::catalog::search::SearchLog;
use crate::domain::orders::{OrderRecord, OrderStatus};
use crate::store::{ItemStore, StoreResult, keys};

use counting::{Adds, Target};

/// How long daily rollups are kept (the routes read up to 365 days back).
pub const ROLLUP_RETENTION_DAYS: i64 = 400;
/// Products in the dashboard's `top_products`.
pub const TOP_PRODUCTS: usize = 10;
/// The category of an order line whose product no longer exists.
pub const UNKNOWN_CATEGORY: &str = "unknown";

/// Attribute names of the day totals.
pub mod attr {
    pub const ORDERS: &str = "orders";
    pub const KEPT_ORDERS: &str = "kept_orders";
    pub const KEPT_REVENUE: &str = "kept_revenue_cents";
    pub const NEW_USERS: &str = "new_users";
    pub const ACTIVE: &str = "active";
    pub const ACTIVE_LAST: &str = "active_last";
    pub const FIRST_ACTIVE: &str = "first_active";
    pub const ACTIVATED: &str = "activated";
    pub const SEARCHES: &str = "searches";
    pub const SEARCH_ZERO: &str = "search_zero";
    pub const SEARCH_MS: &str = "search_ms";
    pub const SEARCH_CLICKED: &str = "search_clicked";
    pub const UNIQUE_QUERIES: &str = "uq";
    pub const UNIQUE_QUERIES_LAST: &str = "uq_last";
    pub const VIEWS: &str = "views";
    pub const CART_ADDS: &str = "cart_adds";
    pub const EVER_ACTIVE: &str = "ever_active";
    pub const SIGNUPS: &str = "signups";
    /// User day items.
    pub const SPENT: &str = "spent_cents";
    pub const SEARCHES_WITH_CLICKS: &str = "searches_with_clicks";
    pub const LAST_ORDER_AT: &str = "last_order_at";

    pub fn status(s: &str) -> String {
        format!("st_{s}")
    }
    pub fn payment(m: &str) -> String {
        format!("pay_{m}")
    }
    pub fn source(s: &str) -> String {
        format!("src_{s}")
    }
    /// Products day items: quantity sold.
    pub fn product_quantity(p: &str) -> String {
        format!("q_{p}")
    }
    /// Products day items: revenue cents.
    pub fn product_revenue(p: &str) -> String {
        format!("r_{p}")
    }
    pub fn category_orders(c: &str) -> String {
        format!("cat_{c}_orders")
    }
    pub fn category_cents(c: &str) -> String {
        format!("cat_{c}_cents")
    }
    /// User day: quantity bought in the category.
    pub fn category_quantity(c: &str) -> String {
        format!("cat_{c}_n")
    }
    /// Daily distinct users of a funnel step (`view`, `cart`, `order`).
    pub fn funnel(step: &str) -> String {
        format!("f_{step}")
    }
    /// Pointers of a funnel step resting on the day.
    pub fn funnel_last(step: &str) -> String {
        format!("f_{step}_last")
    }
    /// Week item: users of the cohort signed up in the week starting `cohort` active this week.
    pub fn cohort_active(cohort: &str) -> String {
        format!("a_{cohort}")
    }

    /// Counters that routinely move on past days: status changes (on the day the order was
    /// placed), the last-day pointers (-1 on the user's previous day) and activations (on the
    /// sign-up day). On months they live on the "moving" items (`ANAMONM#`), read on every
    /// request, so the cached closed months change only on cancellations, imports and rebuilds.
    pub fn is_moving(name: &str) -> bool {
        name.starts_with("st_") || name.ends_with("_last") || name == ACTIVATED
    }

    /// The day counters the daily lists show (dashboard trend, funnel days), also kept per day
    /// of the month on the month items as [`trend`].
    pub const TREND: [&str; 5] = [ORDERS, KEPT_REVENUE, "f_view", "f_cart", "f_order"];

    /// Month item: counter `name` of the month's day `day_of_month` (1-31).
    pub fn trend(day_of_month: u32, name: &str) -> String {
        format!("t{day_of_month:02}_{name}")
    }

    /// `(day of month, counter)` of a [`trend`] attribute name.
    pub fn parse_trend(attr: &str) -> Option<(u32, &str)> {
        let rest = attr.strip_prefix('t')?;
        let (digits, name) = (rest.get(..2)?, rest.get(2..)?.strip_prefix('_')?);
        let day: u32 = digits.parse().ok()?;
        (digits.bytes().all(|b| b.is_ascii_digit()) && (1..=31).contains(&day))
            .then_some((day, name))
    }
}

/// The funnel steps, in order.
pub const FUNNEL_STEPS: [&str; 3] = ["view", "cart", "order"];

/// One write an analytics figure depends on.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    UserCreated {
        user_id: &'a str,
        at: DateTime<Utc>,
    },
    Login {
        user_id: &'a str,
        at: DateTime<Utc>,
    },
    /// A new order (counted on the day of its `created_at`, with its current status).
    OrderPlaced(&'a OrderRecord),
    /// `order` (as it is now) moved from `from`.
    OrderStatusChanged {
        order: &'a OrderRecord,
        from: OrderStatus,
    },
    Search(&'a SearchLog),
    /// A click on a result of a logged search (counted once per search).
    SearchClick {
        search_id: &'a str,
    },
    ProductView {
        user_id: Option<&'a str>,
        product_id: &'a str,
        at: DateTime<Utc>,
    },
    CartAdd {
        user_id: Option<&'a str>,
        product_id: &'a str,
        at: DateTime<Utc>,
    },
}

/// The [`Event::UserCreated`] of a new account (at its `created_at`).
pub fn user_created(user: &crate::domain::users::UserRecord) -> Event<'_> {
    Event::UserCreated {
        user_id: &user.id,
        at: DateTime::parse_from_rfc3339(&user.created_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now()),
    }
}

/// The day (UTC) of an RFC 3339 time; `None` when it does not parse.
pub fn day_of(rfc3339: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&Utc).date_naive())
}

/// The Monday starting the (ISO) week of `day`.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// `yyyy-mm-dd`.
pub fn ymd(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The label an order's `recommendation_source` is counted under: lower-case letters, digits
/// and `_` (anything else dropped, at most 40 characters); `direct` when none is left.
pub fn source_label(source: Option<&str>) -> String {
    let label: String = source
        .unwrap_or("")
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if label.is_empty() {
        "direct".into()
    } else {
        label
    }
}

/// The form a query is counted under (the popular-query form: lower-case words), at most 100
/// bytes; `None` for an empty query.
pub fn normalise_query(query: &str) -> Option<String> {
    let q = crate::text::words(query).join(" ");
    if q.is_empty() {
        return None;
    }
    let mut end = q.len().min(100);
    while !q.is_char_boundary(end) {
        end -= 1;
    }
    Some(q[..end].to_string())
}

/// Records `event` (see the module docs).
pub async fn record(store: &dyn ItemStore, event: Event<'_>) -> StoreResult<()> {
    let mut adds = Adds::default();
    match event {
        Event::UserCreated { user_id, at } => {
            let day = at.date_naive();
            adds.add(Target::Day(day), attr::NEW_USERS, 1);
            adds.add(Target::Week(week_of(day)), attr::SIGNUPS, 1);
            counting::set_signup_day(store, user_id, day).await?;
            counting::activity(store, &mut adds, user_id, day).await?;
        }
        Event::Login { user_id, at } => {
            let day = at.date_naive();
            counting::put_login_day(store, user_id, day).await?;
            counting::activity(store, &mut adds, user_id, day).await?;
        }
        Event::OrderPlaced(order) => order_placed(store, &mut adds, order).await?,
        Event::OrderStatusChanged { order, from } => {
            if from != order.status {
                let day = day_of(&order.created_at).unwrap_or_else(|| Utc::now().date_naive());
                adds.add(Target::Day(day), attr::status(from.as_str()), -1);
                adds.add(Target::Day(day), attr::status(order.status.as_str()), 1);
                if order.status == OrderStatus::Cancelled {
                    let cats = categories_of(store, order).await?;
                    kept(&mut adds, order, &cats, day, -1);
                }
            }
        }
        Event::Search(log) => counting::search(store, &mut adds, log).await?,
        Event::SearchClick { search_id } => {
            counting::search_click(store, &mut adds, search_id).await?
        }
        Event::ProductView { user_id, at, .. } => {
            let day = at.date_naive();
            adds.add(Target::Day(day), attr::VIEWS, 1);
            if let Some(user) = user_id {
                counting::funnel_step(store, &mut adds, user, day, "view").await?;
                counting::activity(store, &mut adds, user, day).await?;
            }
        }
        Event::CartAdd { user_id, at, .. } => {
            let day = at.date_naive();
            adds.add(Target::Day(day), attr::CART_ADDS, 1);
            if let Some(user) = user_id {
                counting::funnel_step(store, &mut adds, user, day, "cart").await?;
                counting::activity(store, &mut adds, user, day).await?;
            }
        }
    }
    adds.flush(store).await
}

/// [`record`], logging a failure instead of returning it: for request paths whose own write has
/// already succeeded.
pub async fn record_logged(store: &dyn ItemStore, event: Event<'_>) {
    if let Err(e) = record(store, event).await {
        tracing::warn!(error = %e, ?event, "analytics not recorded");
    }
}

/// The category of each product of the order's lines (current catalog; [`UNKNOWN_CATEGORY`]
/// for products that no longer exist).
async fn categories_of(
    store: &dyn ItemStore,
    order: &OrderRecord,
) -> StoreResult<HashMap<String, String>> {
    let mut ids: Vec<String> = order.items.iter().map(|l| l.product_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let keys: Vec<_> = ids.iter().map(|id| keys::product(id)).collect();
    let mut out = HashMap::new();
    for item in store.batch_get(&keys).await? {
        if let (Some(id), Some(cat)) = (
            item.get("id").and_then(serde_json::Value::as_str),
            item.get("category_id").and_then(serde_json::Value::as_str),
        ) {
            out.insert(id.to_string(), cat.to_string());
        }
    }
    Ok(out)
}

fn category<'a>(cats: &'a HashMap<String, String>, product: &str) -> &'a str {
    cats.get(product).map_or(UNKNOWN_CATEGORY, String::as_str)
}

/// Adds (`sign` 1) or withdraws (-1) an order's "kept" figures: revenue, products,
/// categories, the customer's spend.
fn kept(
    adds: &mut Adds,
    order: &OrderRecord,
    cats: &HashMap<String, String>,
    day: NaiveDate,
    sign: i64,
) {
    let d = Target::Day(day);
    let u = Target::UserDay(order.user_id.clone(), day);
    adds.add(d.clone(), attr::KEPT_ORDERS, sign);
    adds.add(d.clone(), attr::KEPT_REVENUE, sign * order.total_amount.0);
    adds.add(u.clone(), attr::ORDERS, sign);
    adds.add(u.clone(), attr::SPENT, sign * order.total_amount.0);
    let mut order_categories: BTreeMap<&str, ()> = BTreeMap::new();
    for line in &order.items {
        let cat = category(cats, &line.product_id);
        order_categories.insert(cat, ());
        let p = Target::Products(day);
        adds.add(
            p.clone(),
            attr::product_quantity(&line.product_id),
            sign * line.quantity,
        );
        adds.add(
            p,
            attr::product_revenue(&line.product_id),
            sign * line.total_price.0,
        );
        adds.add(
            d.clone(),
            attr::category_cents(cat),
            sign * line.total_price.0,
        );
        adds.add(
            u.clone(),
            attr::category_cents(cat),
            sign * line.total_price.0,
        );
        adds.add(
            u.clone(),
            attr::category_quantity(cat),
            sign * line.quantity,
        );
    }
    for cat in order_categories.keys() {
        adds.add(d.clone(), attr::category_orders(cat), sign);
    }
}

async fn order_placed(
    store: &dyn ItemStore,
    adds: &mut Adds,
    order: &OrderRecord,
) -> StoreResult<()> {
    let day = day_of(&order.created_at).unwrap_or_else(|| Utc::now().date_naive());
    let d = Target::Day(day);
    adds.add(d.clone(), attr::ORDERS, 1);
    adds.add(d.clone(), attr::status(order.status.as_str()), 1);
    adds.add(d.clone(), attr::payment(&order.payment_method), 1);
    adds.add(
        d,
        attr::source(&source_label(order.recommendation_source.as_deref())),
        1,
    );
    if order.status != OrderStatus::Cancelled {
        let cats = categories_of(store, order).await?;
        kept(adds, order, &cats, day, 1);
    }
    counting::last_order_at(store, &order.user_id, day, &order.created_at).await?;
    counting::funnel_step(store, adds, &order.user_id, day, "order").await?;
    counting::activity(store, adds, &order.user_id, day).await?;
    counting::activation(store, adds, &order.user_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
