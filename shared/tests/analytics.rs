//! Analytics rollups (`shared::domain::analytics`) against brute force, on every store: in
//! memory, the redb file, and DynamoDB on the AWS emulator at `TEST_AWS_ENDPOINT` (ignored
//! unless run with `--include-ignored`).
//!
//! A seeded random shop (users signing up over 60 days, logins, views, cart adds, searches and
//! clicks, orders with every status and payment method) is written as raw records (accounts,
//! orders, search logs and clicks, interaction events), with the analytics event of each write
//! recorded as the request paths do. Every dashboard, KPI, funnel, cohort and user-behaviour
//! figure is then computed by brute force from those records and compared with the rollup
//! answers, for several windows; then the rebuild job runs twice and must give the same answers.
//! 50 concurrent orders must move the counters exactly. The month rollups must equal the sum of
//! their days, and the recommendation month totals the sum of the recommendation day totals,
//! before and after the rebuild.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shared::ai::local::LocalEmbedder;
use shared::auth::Role;
use shared::domain::analytics::window::{month_end, month_of};
use shared::domain::analytics::{
    self, Event, month_cache::MonthCache, normalise_query, rebuild, report, source_label, week_of,
    ymd,
};
use shared::domain::catalog::search::{self, SearchLog};
use shared::domain::catalog::{self, NewCategory, NewProduct, ProductRecord};
use shared::domain::interactions::{self, Actor, InteractionKind, Signal};
use shared::domain::orders::{self, OrderLine, OrderRecord, OrderStatus, PAYMENT_METHODS};
use shared::domain::rec_tracking::{self, Served, ServedItem, rollups};
use shared::domain::users::{self, NewUser};
use shared::money::Cents;
use shared::reco::algorithm::{Algorithm, Family};
use shared::store::{ItemStore, Key, Update, keys};

shared::store_backends!(
    fifty_concurrent_orders_move_the_counters_exactly,
    every_figure_matches_brute_force_and_the_rebuild,
    recommendation_month_totals_are_their_days_and_are_rebuilt,
    a_write_to_a_closed_month_reaches_the_cached_answer,
    a_closed_month_less_its_outside_days_is_cached_and_follows_writes,
    a_recommendation_write_to_a_closed_month_reaches_the_cached_answer,
    the_top_products_are_the_best_ten_of_more,
);

/// The dashboard's top products are the ten best of fifteen sold, most quantity first, each
/// summed over a closed month (cached) and today (the current month).
async fn the_top_products_are_the_best_ten_of_more(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let months = MonthCache::default();
    let products = products(store, 15).await;
    let now = Utc::now();
    let today = now.date_naive();
    let closed = noon_in_a_closed_month(today);
    // Product i sells i + 1 units: half of them in the closed month, the rest today.
    for (i, p) in products.iter().enumerate() {
        let q = i as i64 + 1;
        for (n, (at, quantity)) in [(closed, q / 2), (now, q - q / 2)].into_iter().enumerate() {
            if quantity == 0 {
                continue;
            }
            let order = order_of(
                &format!("top-buyer-{i}-{n}"),
                &[(p, quantity)],
                "credit_card",
                None,
                at,
            );
            import_and_record(store, &order).await;
        }
    }
    let expected: Vec<(String, i64)> = products
        .iter()
        .enumerate()
        .rev()
        .take(analytics::TOP_PRODUCTS)
        .map(|(i, p)| (p.id.clone(), i as i64 + 1))
        .collect();
    for _ in 0..2 {
        let top: Vec<(String, i64)> = report::dashboard(store, &months, today, 365)
            .await
            .unwrap()
            .products
            .top_products
            .into_iter()
            .map(|t| (t.product_id, t.quantity_sold))
            .collect();
        assert_eq!(top, expected);
    }
}

/// A closed month's recommendation totals are cached with the analytics months; a list served
/// in that month (a write dated there, as a click on an old list is) bumps the month's version,
/// so the next dashboard of the same instance counts it.
async fn a_recommendation_write_to_a_closed_month_reaches_the_cached_answer(
    store: Arc<dyn ItemStore>,
) {
    use shared::domain::analytics::month_cache;
    let store = store.as_ref();
    let months = MonthCache::default();
    let today = Utc::now().date_naive();
    let at = noon_in_a_closed_month(today);
    let month = month_of(at.date_naive());
    assert!(month_cache::is_closed(month, today));
    let serve = || async move {
        let served = Served {
            recommendation_type: "homepage".into(),
            blended: false,
            actor: None,
            arm: None,
            items: vec![ServedItem {
                product_id: "p1".into(),
                algorithm: Algorithm::CollaborativeFiltering,
                score: 0.5,
            }],
        };
        rec_tracking::record_served(store, &rec_tracking::new_recommendation_id(), &served, at)
            .await
            .unwrap();
    };
    async fn served_in(store: &dyn ItemStore, cache: &MonthCache, today: NaiveDate) -> i64 {
        report::dashboard(store, cache, today, 365)
            .await
            .unwrap()
            .recommendations
            .total_recommendations
    }
    serve().await;
    assert_eq!(served_in(store, &months, today).await, 1);
    assert!(!months.is_empty(), "the closed month is cached");
    // Behind the cache's back (no version bump): not seen.
    let shard = keys::rec_month_totals(month, 0);
    let corrupt = |by: i64| {
        store.update(
            &shard,
            Update::new().add("collaborative_impressions", by),
            None,
        )
    };
    corrupt(5).await.unwrap();
    assert_eq!(
        served_in(store, &months, today).await,
        1,
        "served from the cache"
    );
    corrupt(-5).await.unwrap();
    // Through the write path: counted at once.
    serve().await;
    assert_eq!(
        served_in(store, &months, today).await,
        2,
        "the write bumped the month"
    );
    assert_eq!(served_in(store, &MonthCache::default(), today).await, 2);
}

/// A window that starts inside a closed month reads that month less its days before the window
/// start; the net figure is cached, and a write to one of the month's days, inside the window
/// or not, reaches the next answer (it bumps the month's version).
async fn a_closed_month_less_its_outside_days_is_cached_and_follows_writes(
    store: Arc<dyn ItemStore>,
) {
    use shared::domain::analytics::{month_cache, window};
    let store = store.as_ref();
    let months = MonthCache::default();
    let products = products(store, 1).await;
    let today = Utc::now().date_naive();
    let month = month_of(month_of(today) - Duration::days(40));
    assert!(month_cache::is_closed(month, today));
    let noon = |day: NaiveDate| day.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let (outside, inside) = (month + Duration::days(1), month + Duration::days(20));
    // The window starts on the month's third day: the month whole, less its first two days.
    let days = u32::try_from((today - (month + Duration::days(2))).num_days() + 1).unwrap();
    let plan = window::plan(today, days);
    assert!(plan.months.contains(&month), "{plan:?}");
    assert!(plan.sub_days.contains(&outside), "{plan:?}");
    let place = |n: usize, day: NaiveDate| {
        let order = order_of(
            &format!("net-buyer-{n}"),
            &[(&products[0], 1)],
            "credit_card",
            None,
            noon(day),
        );
        async move {
            import_and_record(store, &order).await;
        }
    };
    place(0, outside).await;
    place(1, inside).await;
    let orders_in = |d: report::Dashboard| d.orders.total_orders;
    let first = report::dashboard(store, &months, today, days)
        .await
        .unwrap();
    assert_eq!(
        orders_in(first),
        1,
        "the order before the window is subtracted"
    );
    assert!(!months.is_empty(), "the net month is cached");
    // Behind the cache's back (no version bump): not seen.
    store
        .update(
            &keys::analytics_day(outside, 0),
            Update::new().add("orders", 5),
            None,
        )
        .await
        .unwrap();
    let cached = report::dashboard(store, &months, today, days)
        .await
        .unwrap();
    assert_eq!(orders_in(cached), 1, "served from the cache");
    store
        .update(
            &keys::analytics_day(outside, 0),
            Update::new().add("orders", -5),
            None,
        )
        .await
        .unwrap();
    // Through the write path: an order outside the window changes nothing, one inside counts.
    place(2, outside).await;
    let after_outside = report::dashboard(store, &months, today, days)
        .await
        .unwrap();
    assert_eq!(orders_in(after_outside), 1);
    place(3, inside).await;
    let after_inside = report::dashboard(store, &months, today, days)
        .await
        .unwrap();
    assert_eq!(orders_in(after_inside), 2);
    // The whole month (a year's window) and the month less its days are two entries.
    let year = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(orders_in(year), 4);
    let again = report::dashboard(store, &months, today, days)
        .await
        .unwrap();
    assert_eq!(orders_in(again), 2);
    // A fresh instance agrees.
    let fresh = report::dashboard(store, &MonthCache::default(), today, days)
        .await
        .unwrap();
    assert_eq!(orders_in(fresh), 2);
}

/// A closed month is served from the per-instance cache (a write that skips the version bump
/// is not seen); a cancellation of one of its orders bumps its version, so the next answer
/// withdraws the order.
async fn a_write_to_a_closed_month_reaches_the_cached_answer(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    use shared::domain::analytics::month_cache;
    let months = MonthCache::default();
    let products = products(store, 2).await;
    let now = Utc::now();
    let today = now.date_naive();
    // In a month that ended at least 9 days ago: cached.
    let at = noon_in_a_closed_month(today);
    let month = month_of(at.date_naive());
    assert!(month_cache::is_closed(month, today));
    let order = order_of(
        "closed-buyer",
        &[(&products[0], 2)],
        "credit_card",
        None,
        at,
    );
    import_and_record(store, &order).await;
    let before = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(before.orders.total_orders, 1);
    assert_eq!(
        Cents::round_from(before.orders.total_revenue),
        order.total_amount
    );
    // Behind the cache's back: not seen until the month's version moves.
    store
        .update(
            &keys::analytics_month(month, 0),
            Update::new().add("orders", 5),
            None,
        )
        .await
        .unwrap();
    let cached = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(cached.orders.total_orders, 1, "served from the cache");
    // The buyer comes back today: their last-active pointer leaves the closed month (a moving
    // counter, on the month's moving item): the cached month stays valid, the figure moves.
    analytics::record(
        store,
        Event::Login {
            user_id: "closed-buyer",
            at: now,
        },
    )
    .await
    .unwrap();
    let returned = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(
        returned.orders.total_orders, 1,
        "still served from the cache"
    );
    assert_eq!(returned.users.active_users, 1);
    assert_eq!(
        report::dashboard(store, &months, today, 1)
            .await
            .unwrap()
            .users
            .active_users,
        1
    );
    month_cache::bump(store, &[month]).await.unwrap();
    let bumped = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(bumped.orders.total_orders, 6, "re-read after the bump");
    // A cancellation through the write path bumps the month itself.
    let (cancelled, from) =
        orders::update_status_from(store, &order.id, OrderStatus::Cancelled, None)
            .await
            .unwrap();
    analytics::record(
        store,
        Event::OrderStatusChanged {
            order: &cancelled,
            from,
        },
    )
    .await
    .unwrap();
    let after = report::dashboard(store, &months, today, 365).await.unwrap();
    assert_eq!(after.orders.total_revenue, 0.0);
    assert_eq!(after.orders.status_breakdown["cancelled"], 1);
    assert!(after.products.top_products.is_empty());
    let k = report::kpis(store, &months, today, 365).await.unwrap();
    assert_eq!(k.average_order_value, 0.0);
}

/// The numeric attributes of `keys`' items summed (zeros dropped; `expires_at` left out).
async fn summed(store: &dyn ItemStore, keys: &[Key]) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for chunk in keys.chunks(100) {
        for item in store.batch_get(chunk).await.unwrap() {
            for (k, v) in &item {
                if let Some(n) = v.as_i64()
                    && k != "expires_at"
                {
                    *out.entry(k.clone()).or_default() += n;
                }
            }
        }
    }
    out.retain(|_, n| *n != 0);
    out
}

fn shards<F: Fn(NaiveDate, u32) -> Key>(day: NaiveDate, key: F) -> Vec<Key> {
    (0..keys::ANALYTICS_SHARDS).map(|s| key(day, s)).collect()
}

/// Each month item of the last `months` months holds exactly the sum of its day items, and its
/// `t<dd>_*` attributes the day's list counters; the same for the products.
async fn months_are_their_days(store: &dyn ItemStore, today: NaiveDate, months: u32) {
    let mut month = month_of(today);
    for _ in 0..months {
        let days: Vec<NaiveDate> = month
            .iter_days()
            .take_while(|d| *d <= month_end(month))
            .collect();
        let mut month_keys = shards(month, keys::analytics_month);
        month_keys.extend(shards(month, keys::analytics_month_moving));
        let mut month_totals = summed(store, &month_keys).await;
        let moving = summed(store, &shards(month, keys::analytics_month_moving)).await;
        assert!(
            moving.keys().all(|k| analytics::attr::is_moving(k)),
            "only moving counters on the moving items: {moving:?}"
        );
        let trend: BTreeMap<String, i64> = month_totals
            .iter()
            .filter(|(k, _)| analytics::attr::parse_trend(k).is_some())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        month_totals.retain(|k, _| analytics::attr::parse_trend(k).is_none());
        let mut day_totals = BTreeMap::new();
        let mut day_trend = BTreeMap::new();
        for d in &days {
            let one = summed(store, &shards(*d, keys::analytics_day)).await;
            for (k, v) in &one {
                *day_totals.entry(k.clone()).or_insert(0) += v;
                if analytics::attr::TREND.contains(&k.as_str()) {
                    use chrono::Datelike;
                    day_trend.insert(analytics::attr::trend(d.day(), k), *v);
                }
            }
        }
        day_totals.retain(|_, n| *n != 0);
        assert_eq!(month_totals, day_totals, "month {month}");
        assert_eq!(trend, day_trend, "daily lists of month {month}");
        let month_products = summed(store, &shards(month, keys::analytics_products_month)).await;
        let day_keys: Vec<Key> = days
            .iter()
            .flat_map(|d| shards(*d, keys::analytics_products_day))
            .collect();
        assert_eq!(
            month_products,
            summed(store, &day_keys).await,
            "products of month {month}"
        );
        month = month_of(month - Duration::days(1));
    }
}

/// Served homepage and trending lists on days over the last 70 days, then: every family's
/// total over 1/7/30/365 days from [`rollups::totals_by_family`] (month totals and days) equals
/// the sum of its day totals ([`rollups::totals`]); a corrupted month total is repaired by the
/// rebuild, which gives the same figures twice.
async fn recommendation_month_totals_are_their_days_and_are_rebuilt(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let now = Utc::now();
    let today = now.date_naive();
    let mut rng = StdRng::seed_from_u64(11);
    for i in 0..40 {
        let at = now - Duration::days(rng.random_range(0..70));
        let served = Served {
            recommendation_type: "homepage".into(),
            blended: i % 2 == 0,
            actor: None,
            arm: None,
            items: vec![
                ServedItem {
                    product_id: format!("p{}", i % 5),
                    algorithm: Algorithm::CollaborativeFiltering,
                    score: 0.5,
                },
                ServedItem {
                    product_id: format!("p{}", i % 3),
                    algorithm: Algorithm::Trending,
                    score: 0.25,
                },
            ],
        };
        rec_tracking::record_served(store, &rec_tracking::new_recommendation_id(), &served, at)
            .await
            .unwrap();
    }
    async fn matches(store: &dyn ItemStore, today: NaiveDate) -> bool {
        for days in [1, 7, 30, 365] {
            let fresh = MonthCache::default();
            let by_family = rollups::totals_by_family(store, &fresh, today, days)
                .await
                .unwrap();
            for family in Family::ALL {
                let days_only = rollups::totals(store, &[family], today, days)
                    .await
                    .unwrap();
                if by_family.get(&family).copied().unwrap_or_default() != days_only {
                    return false;
                }
            }
        }
        true
    }
    assert!(matches(store, today).await, "month totals = their days");
    let a_year = rollups::totals(store, &[Family::Trending], today, 365)
        .await
        .unwrap();
    assert_eq!(a_year.impressions, 40);
    // A month total out of step with its days (as after an import of day totals).
    let last_month = month_of(month_of(today) - Duration::days(1));
    store
        .update(
            &keys::rec_month_totals(last_month, 0),
            Update::new().add("trending_impressions", 1000),
            None,
        )
        .await
        .unwrap();
    assert!(!matches(store, today).await, "the corruption shows");
    let first = rebuild::rebuild(store, today).await.unwrap();
    assert!(first.rec_months > 0);
    assert!(matches(store, today).await, "rebuilt from the days");
    let second = rebuild::rebuild(store, today).await.unwrap();
    assert_eq!(second.rec_months, first.rec_months);
    assert!(
        matches(store, today).await,
        "rebuilding twice changes nothing"
    );
}

/// Noon of a day 40 days before this month began: in a month the cache holds.
fn noon_in_a_closed_month(today: NaiveDate) -> DateTime<Utc> {
    (month_of(today) - Duration::days(40))
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
}

/// Writes `order` as an import does, with its analytics event as the order path records it.
async fn import_and_record(store: &dyn ItemStore, order: &OrderRecord) {
    assert!(orders::import_historical(store, order).await.unwrap());
    analytics::record(store, Event::OrderPlaced(order))
        .await
        .unwrap();
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn products(store: &dyn ItemStore, n: usize) -> Vec<ProductRecord> {
    let embedder = LocalEmbedder::new(8);
    let mut cats = Vec::new();
    for name in ["Phones", "Books", "Garden"] {
        cats.push(
            catalog::create_category(
                store,
                NewCategory {
                    name: name.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
    }
    let mut out = Vec::new();
    for i in 0..n {
        out.push(
            catalog::create_product(
                store,
                &embedder,
                NewProduct {
                    name: format!("Product {i}"),
                    code: format!("P-{i}"),
                    price: Cents(1000 + 137 * i as i64),
                    images: vec!["https://example.com/p.jpg".into()],
                    in_stock: true,
                    stock_quantity: 100_000,
                    category_id: cats[i % cats.len()].id.clone(),
                    is_active: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
        );
    }
    out
}

fn address() -> orders::OrderAddress {
    orders::OrderAddress {
        name: None,
        street: "1 Main St".into(),
        city: "Austin".into(),
        state: "TX".into(),
        zip_code: "73301".into(),
        country: "US".into(),
    }
}

fn order_of(
    user_id: &str,
    lines: &[(&ProductRecord, i64)],
    payment: &str,
    source: Option<&str>,
    at: DateTime<Utc>,
) -> OrderRecord {
    let items: Vec<OrderLine> = lines
        .iter()
        .map(|(p, q)| OrderLine {
            id: uuid::Uuid::new_v4().to_string(),
            product_id: p.id.clone(),
            product_name: p.name.clone(),
            quantity: *q,
            unit_price: p.price,
            total_price: p.price.times(*q),
        })
        .collect();
    let subtotal: Cents = items.iter().map(|i| i.total_price).sum();
    let (tax, shipping) = orders::charges(subtotal, payment);
    OrderRecord {
        id: uuid::Uuid::new_v4().to_string(),
        order_number: orders::order_number(at),
        user_id: user_id.into(),
        subtotal,
        tax_amount: tax,
        shipping_amount: shipping,
        total_amount: subtotal + tax + shipping,
        status: OrderStatus::Pending,
        payment_status: "pending".into(),
        payment_method: payment.into(),
        billing_address: address(),
        shipping_address: address(),
        recommendation_source: source.map(str::to_string),
        recommendation_session_id: None,
        order_notes: None,
        items,
        admin_notes: None,
        created_at: millis(at),
        updated_at: millis(at),
    }
}

async fn fifty_concurrent_orders_move_the_counters_exactly(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let months = MonthCache::default();
    let products = products(store, 4).await;
    let now = Utc::now();
    // 25 users, two orders each, all at once: 50 orders, 25 distinct buyers.
    let orders: Vec<OrderRecord> = (0..50)
        .map(|i| {
            let p = &products[i % products.len()];
            order_of(
                &format!("buyer-{}", i % 25),
                &[(p, 1 + (i as i64 % 3))],
                PAYMENT_METHODS[i % 3],
                None,
                now,
            )
        })
        .collect();
    let writes = orders.iter().map(|o| async move {
        assert!(orders::import_historical(store, o).await.unwrap());
        analytics::record(store, Event::OrderPlaced(o))
            .await
            .unwrap();
    });
    futures::future::join_all(writes).await;
    let today = now.date_naive();
    let d = report::dashboard(store, &months, today, 1).await.unwrap();
    let revenue: i64 = orders.iter().map(|o| o.total_amount.0).sum();
    assert_eq!(d.orders.total_orders, 50);
    assert_eq!(Cents::round_from(d.orders.total_revenue).0, revenue);
    assert_eq!(d.orders.status_breakdown["pending"], 50);
    assert_eq!(d.users.active_users, 25);
    let quantity: i64 = orders
        .iter()
        .flat_map(|o| &o.items)
        .map(|l| l.quantity)
        .sum();
    assert_eq!(
        d.products
            .top_products
            .iter()
            .map(|p| p.quantity_sold)
            .sum::<i64>(),
        quantity
    );
    let f = report::funnel(store, &months, today, 1).await.unwrap();
    assert_eq!(f.steps[2].users, 25);
    assert_eq!(f.daily[0].ordered, 25);
    let by_method: i64 = d.orders.payment_method_breakdown.values().sum();
    assert_eq!(by_method, 50);
    assert_eq!(d.orders.recommendation_source_breakdown["direct"], 50);
    // The month items took the same 50 orders (concurrent ADDs on their shards).
    let month = summed(store, &shards(today, keys::analytics_month)).await;
    assert_eq!(month["orders"], 50);
    assert_eq!(month["kept_revenue_cents"], revenue);
    let moving = summed(store, &shards(today, keys::analytics_month_moving)).await;
    assert_eq!(moving["f_order_last"], 25);
    assert_eq!(moving["st_pending"], 50);
    months_are_their_days(store, today, 1).await;
}

/// The raw records of the generated shop, as written.
#[derive(Default)]
struct World {
    today: NaiveDate,
    /// The instance's closed-month cache the answers are read through.
    months: MonthCache,
    products: Vec<ProductRecord>,
    category_names: HashMap<String, String>,
    /// (user, sign-up time)
    users: Vec<(String, DateTime<Utc>)>,
    logins: Vec<(String, DateTime<Utc>)>,
    views: Vec<(String, String, DateTime<Utc>)>,
    carts: Vec<(String, String, DateTime<Utc>)>,
    searches: Vec<SearchLog>,
    clicked: HashSet<String>,
    /// Final state.
    orders: Vec<OrderRecord>,
}

const QUERIES: [&str; 6] = [
    "iphone",
    "IPhone ",
    "garden hose",
    "books",
    "xyzzy",
    "pro max",
];

async fn build_world(store: &dyn ItemStore, seed: u64) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let today = now.date_naive();
    let mut w = World {
        today,
        products: products(store, 14).await,
        ..Default::default()
    };
    for c in catalog::list_categories(store).await.unwrap() {
        w.category_names.insert(c.id, c.name);
    }
    let time_on = |rng: &mut StdRng, day: NaiveDate| -> DateTime<Utc> {
        let start = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
        let t = start + Duration::seconds(rng.random_range(0..86_400));
        t.min(now - Duration::seconds(1))
    };
    for u in 0..24 {
        let id = format!("user-{seed}-{u}");
        let signup_day = today - Duration::days(rng.random_range(0..60));
        let signup = time_on(&mut rng, signup_day);
        users::create_with_id(
            store,
            NewUser {
                email: format!("{id}@example.com"),
                username: None,
                first_name: "A".into(),
                last_name: "B".into(),
                phone: None,
                address: None,
                is_active: true,
                roles: vec![Role::Customer],
                password_hash: "x".into(),
            },
            id.clone(),
            Some(millis(signup)),
        )
        .await
        .unwrap();
        analytics::record(
            store,
            Event::UserCreated {
                user_id: &id,
                at: signup,
            },
        )
        .await
        .unwrap();
        w.users.push((id.clone(), signup));
        let span = (today - signup_day).num_days();
        for _ in 0..rng.random_range(0..8) {
            let day = signup_day + Duration::days(rng.random_range(0..=span));
            let at = time_on(&mut rng, day).max(signup);
            let product = w.products[rng.random_range(0..w.products.len())].clone();
            match rng.random_range(0..6) {
                0 => {
                    analytics::record(store, Event::Login { user_id: &id, at })
                        .await
                        .unwrap();
                    w.logins.push((id.clone(), at));
                }
                1 | 2 => {
                    let kind = if rng.random_bool(0.5) {
                        InteractionKind::View
                    } else {
                        InteractionKind::Cart
                    };
                    interactions::record(
                        store,
                        &[Signal::new(Actor::User(id.clone()), product.id.clone(), kind).at(at)],
                    )
                    .await
                    .unwrap();
                    let event = if kind == InteractionKind::View {
                        w.views.push((id.clone(), product.id.clone(), at));
                        Event::ProductView {
                            user_id: Some(&id),
                            product_id: &product.id,
                            at,
                        }
                    } else {
                        w.carts.push((id.clone(), product.id.clone(), at));
                        Event::CartAdd {
                            user_id: Some(&id),
                            product_id: &product.id,
                            at,
                        }
                    };
                    analytics::record(store, event).await.unwrap();
                }
                3 | 4 => {
                    let log = SearchLog {
                        id: uuid::Uuid::new_v4().to_string(),
                        query: QUERIES[rng.random_range(0..QUERIES.len())].into(),
                        user_id: if rng.random_bool(0.8) {
                            Some(id.clone())
                        } else {
                            None
                        },
                        result_count: rng.random_range(0..3),
                        latency_ms: rng.random_range(1..300),
                        created_at: millis(at),
                        clicks: 0,
                    };
                    search::log_search(store, &log).await.unwrap();
                    analytics::record(store, Event::Search(&log)).await.unwrap();
                    let clicks = if log.result_count > 0 {
                        rng.random_range(0..3)
                    } else {
                        0
                    };
                    for _ in 0..clicks {
                        assert!(
                            search::track_click(store, &log.id, &product.id, 1)
                                .await
                                .unwrap()
                        );
                        analytics::record(store, Event::SearchClick { search_id: &log.id })
                            .await
                            .unwrap();
                        w.clicked.insert(log.id.clone());
                    }
                    w.searches.push(log);
                }
                _ => {
                    let second = w.products[rng.random_range(0..w.products.len())].clone();
                    let mut lines = vec![(&product, rng.random_range(1..4))];
                    if second.id != product.id && rng.random_bool(0.5) {
                        lines.push((&second, 1));
                    }
                    let source = [None, Some("collaborative"), Some("content_based")]
                        [rng.random_range(0..3)];
                    let mut order = order_of(
                        &id,
                        &lines,
                        PAYMENT_METHODS[rng.random_range(0..4)],
                        source,
                        at,
                    );
                    import_and_record(store, &order).await;
                    let path: &[OrderStatus] = match rng.random_range(0..5) {
                        0 => &[],
                        1 => &[OrderStatus::Confirmed],
                        2 => &[OrderStatus::Shipped, OrderStatus::Delivered],
                        3 => &[OrderStatus::Cancelled],
                        _ => &[OrderStatus::Confirmed, OrderStatus::Cancelled],
                    };
                    for &to in path {
                        let from = order.status;
                        order = orders::update_status(store, &order.id, to, None)
                            .await
                            .unwrap();
                        analytics::record(
                            store,
                            Event::OrderStatusChanged {
                                order: &order,
                                from,
                            },
                        )
                        .await
                        .unwrap();
                    }
                    w.orders.push(order);
                }
            }
        }
    }
    w
}

fn percent(n: i64, of: i64) -> f64 {
    if of <= 0 {
        return 0.0;
    }
    (n as f64 * 1000.0 / of as f64).round() / 10.0
}

fn money(cents: i64) -> f64 {
    Cents(cents).to_f64()
}

fn ratio_money(cents: i64, n: i64) -> f64 {
    if n <= 0 {
        0.0
    } else {
        money((cents as f64 / n as f64).round() as i64)
    }
}

impl World {
    fn start(&self, days: u32) -> NaiveDate {
        self.today - Duration::days(i64::from(days) - 1)
    }

    fn in_window(&self, day: NaiveDate, days: u32) -> bool {
        day >= self.start(days) && day <= self.today
    }

    fn order_day(o: &OrderRecord) -> NaiveDate {
        analytics::day_of(&o.created_at).unwrap()
    }

    fn category_of(&self, product: &str) -> String {
        self.products
            .iter()
            .find(|p| p.id == product)
            .map(|p| p.category_id.clone())
            .unwrap()
    }

    /// (user, day) of every activity.
    fn activity(&self) -> Vec<(String, NaiveDate)> {
        let mut out = Vec::new();
        for (u, at) in &self.users {
            out.push((u.clone(), at.date_naive()));
        }
        for (u, at) in &self.logins {
            out.push((u.clone(), at.date_naive()));
        }
        for (u, _, at) in self.views.iter().chain(&self.carts) {
            out.push((u.clone(), at.date_naive()));
        }
        for s in &self.searches {
            if let Some(u) = &s.user_id {
                out.push((u.clone(), analytics::day_of(&s.created_at).unwrap()));
            }
        }
        for o in &self.orders {
            out.push((o.user_id.clone(), Self::order_day(o)));
        }
        out
    }

    fn active_in(&self, days: u32) -> BTreeSet<String> {
        self.activity()
            .into_iter()
            .filter(|(_, d)| self.in_window(*d, days))
            .map(|(u, _)| u)
            .collect()
    }

    fn retention(&self, days: u32) -> f64 {
        let mut first: HashMap<String, NaiveDate> = HashMap::new();
        for (u, d) in self.activity() {
            let e = first.entry(u).or_insert(d);
            *e = (*e).min(d);
        }
        let before: BTreeSet<&String> = first
            .iter()
            .filter(|(_, d)| **d < self.start(days))
            .map(|(u, _)| u)
            .collect();
        let active = self.active_in(days);
        percent(
            before.iter().filter(|u| active.contains(**u)).count() as i64,
            before.len() as i64,
        )
    }

    fn kept_orders(&self, days: u32) -> Vec<&OrderRecord> {
        self.orders
            .iter()
            .filter(|o| self.in_window(Self::order_day(o), days))
            .filter(|o| o.status != OrderStatus::Cancelled)
            .collect()
    }

    fn window_searches(&self, days: u32) -> Vec<&SearchLog> {
        self.searches
            .iter()
            .filter(|s| self.in_window(analytics::day_of(&s.created_at).unwrap(), days))
            .collect()
    }

    fn funnel_users(&self, step: &str, days: u32, only: Option<NaiveDate>) -> i64 {
        let keep = |d: NaiveDate| match only {
            Some(o) => d == o,
            None => self.in_window(d, days),
        };
        let set: BTreeSet<&String> = match step {
            "view" => self
                .views
                .iter()
                .filter(|v| keep(v.2.date_naive()))
                .map(|v| &v.0)
                .collect(),
            "cart" => self
                .carts
                .iter()
                .filter(|v| keep(v.2.date_naive()))
                .map(|v| &v.0)
                .collect(),
            _ => self
                .orders
                .iter()
                .filter(|o| keep(Self::order_day(o)))
                .map(|o| &o.user_id)
                .collect(),
        };
        set.len() as i64
    }

    fn dashboard(&self, days: u32, ordinary: &report::Dashboard) -> report::Dashboard {
        let placed: Vec<&OrderRecord> = self
            .orders
            .iter()
            .filter(|o| self.in_window(Self::order_day(o), days))
            .collect();
        let kept = self.kept_orders(days);
        let revenue: i64 = kept.iter().map(|o| o.total_amount.0).sum();
        let mut status = BTreeMap::new();
        for s in OrderStatus::ALL {
            status.insert(
                s.as_str().to_string(),
                placed.iter().filter(|o| o.status == s).count() as i64,
            );
        }
        let mut payment: BTreeMap<String, i64> = BTreeMap::new();
        let mut source: BTreeMap<String, i64> = BTreeMap::new();
        for o in &placed {
            *payment.entry(o.payment_method.clone()).or_default() += 1;
            *source
                .entry(source_label(o.recommendation_source.as_deref()))
                .or_default() += 1;
        }
        let daily_trend = (0..days)
            .rev()
            .map(|back| {
                let d = self.today - Duration::days(i64::from(back));
                report::DailyOrders {
                    date: ymd(d),
                    orders: placed.iter().filter(|o| Self::order_day(o) == d).count() as i64,
                    revenue: money(
                        kept.iter()
                            .filter(|o| Self::order_day(o) == d)
                            .map(|o| o.total_amount.0)
                            .sum(),
                    ),
                }
            })
            .collect();
        let mut per_product: HashMap<String, (i64, i64)> = HashMap::new();
        let mut per_cat: BTreeMap<String, (BTreeSet<String>, i64)> = BTreeMap::new();
        for o in &kept {
            for l in &o.items {
                let e = per_product.entry(l.product_id.clone()).or_default();
                e.0 += l.quantity;
                e.1 += l.total_price.0;
                let c = per_cat.entry(self.category_of(&l.product_id)).or_default();
                c.0.insert(o.id.clone());
                c.1 += l.total_price.0;
            }
        }
        let mut top: Vec<(String, (i64, i64))> = per_product.into_iter().collect();
        top.sort_by(|(pa, a), (pb, b)| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(pa.cmp(pb)));
        top.truncate(analytics::TOP_PRODUCTS);
        let mut category_performance: Vec<report::CategoryPerformance> = per_cat
            .into_iter()
            .map(|(id, (orders, cents))| report::CategoryPerformance {
                category_name: self.category_names[&id].clone(),
                category_id: id,
                orders: orders.len() as i64,
                revenue: money(cents),
            })
            .collect();
        category_performance.sort_by(|a, b| {
            b.revenue
                .total_cmp(&a.revenue)
                .then(b.orders.cmp(&a.orders))
                .then(a.category_id.cmp(&b.category_id))
        });
        let searches = self.window_searches(days);
        let n = searches.len() as i64;
        let ms: i64 = searches.iter().map(|s| s.latency_ms as i64).sum();
        let unique: BTreeSet<String> = searches
            .iter()
            .filter_map(|s| normalise_query(&s.query))
            .collect();
        report::Dashboard {
            period: ordinary.period.clone(),
            orders: report::OrdersSection {
                total_orders: placed.len() as i64,
                total_revenue: money(revenue),
                average_order_value: ratio_money(revenue, kept.len() as i64),
                status_breakdown: status,
                payment_method_breakdown: payment,
                recommendation_source_breakdown: source,
                daily_trend,
            },
            users: report::UsersSection {
                new_users: self
                    .users
                    .iter()
                    .filter(|(_, at)| self.in_window(at.date_naive(), days))
                    .count() as i64,
                active_users: self.active_in(days).len() as i64,
                retention_rate: self.retention(days),
                users_with_addresses: ordinary.users.users_with_addresses,
                users_with_viewed_products: ordinary.users.users_with_viewed_products,
            },
            products: report::ProductsSection {
                top_products: top
                    .into_iter()
                    .map(|(id, (q, r))| {
                        let p = self.products.iter().find(|p| p.id == id).unwrap();
                        report::TopProduct {
                            product_id: id,
                            name: p.name.clone(),
                            code: p.code.clone(),
                            quantity_sold: q,
                            revenue: money(r),
                        }
                    })
                    .collect(),
                category_performance,
            },
            search: report::SearchSection {
                total_searches: n,
                click_through_rate: percent(
                    searches
                        .iter()
                        .filter(|s| self.clicked.contains(&s.id))
                        .count() as i64,
                    n,
                ),
                average_response_time_ms: if n > 0 {
                    (ms as f64 / n as f64).round() as i64
                } else {
                    0
                },
                zero_result_rate: percent(
                    searches.iter().filter(|s| s.result_count == 0).count() as i64,
                    n,
                ),
                unique_queries: unique.len() as i64,
            },
            recommendations: ordinary.recommendations.clone(),
        }
    }

    fn kpis(&self, days: u32, d: &report::Dashboard, rec: &report::Kpis) -> report::Kpis {
        let active = d.users.active_users;
        let kept = self.kept_orders(days);
        let revenue: i64 = kept.iter().map(|o| o.total_amount.0).sum();
        let new: Vec<&String> = self
            .users
            .iter()
            .filter(|(_, at)| self.in_window(at.date_naive(), days))
            .map(|(u, _)| u)
            .collect();
        let activated = new
            .iter()
            .filter(|u| self.orders.iter().any(|o| &&o.user_id == *u))
            .count() as i64;
        let cod = self
            .orders
            .iter()
            .filter(|o| self.in_window(Self::order_day(o), days))
            .filter(|o| o.payment_method == "cash_on_delivery")
            .count() as i64;
        report::Kpis {
            period_days: days,
            conversion_rate: percent(self.funnel_users("order", days, None), active),
            average_order_value: d.orders.average_order_value,
            revenue_per_user: ratio_money(revenue, active),
            cod_adoption_rate: percent(cod, d.orders.total_orders),
            recommendation_click_rate: rec.recommendation_click_rate,
            recommendation_conversion_rate: rec.recommendation_conversion_rate,
            collaborative_algorithm_performance: rec.collaborative_algorithm_performance,
            content_algorithm_performance: rec.content_algorithm_performance,
            hybrid_algorithm_performance: rec.hybrid_algorithm_performance,
            search_success_rate: if d.search.total_searches > 0 {
                percent(
                    self.window_searches(days)
                        .iter()
                        .filter(|s| s.result_count > 0)
                        .count() as i64,
                    d.search.total_searches,
                )
            } else {
                0.0
            },
            search_click_through_rate: d.search.click_through_rate,
            average_search_response_time: d.search.average_response_time_ms,
            zero_result_rate: d.search.zero_result_rate,
            user_retention_rate: d.users.retention_rate,
            new_user_percentage: percent(new.len() as i64, active),
            user_activation_rate: percent(activated, new.len() as i64),
        }
    }

    fn cohorts(&self, weeks: u32) -> Vec<(String, i64, Vec<i64>)> {
        let current = week_of(self.today);
        let mondays: Vec<NaiveDate> = (0..i64::from(weeks))
            .rev()
            .map(|b| current - Duration::weeks(b))
            .collect();
        let activity = self.activity();
        mondays
            .iter()
            .map(|&c| {
                let members: BTreeSet<&String> = self
                    .users
                    .iter()
                    .filter(|(_, at)| week_of(at.date_naive()) == c)
                    .map(|(u, _)| u)
                    .collect();
                let active = mondays
                    .iter()
                    .filter(|&&w| w >= c)
                    .map(|&w| {
                        activity
                            .iter()
                            .filter(|(u, d)| week_of(*d) == w && members.contains(u))
                            .map(|(u, _)| u)
                            .collect::<BTreeSet<_>>()
                            .len() as i64
                    })
                    .collect();
                (ymd(c), members.len() as i64, active)
            })
            .collect()
    }

    fn behavior(&self, user: &str, days: u32) -> report::UserBehavior {
        let kept: Vec<&OrderRecord> = self
            .kept_orders(days)
            .into_iter()
            .filter(|o| o.user_id == user)
            .collect();
        let spent: i64 = kept.iter().map(|o| o.total_amount.0).sum();
        let last = self
            .orders
            .iter()
            .filter(|o| o.user_id == user && self.in_window(Self::order_day(o), days))
            .map(|o| o.created_at.clone())
            .max();
        let searches: Vec<&SearchLog> = self
            .window_searches(days)
            .into_iter()
            .filter(|s| s.user_id.as_deref() == Some(user))
            .collect();
        let unique: BTreeSet<String> = searches
            .iter()
            .filter_map(|s| normalise_query(&s.query))
            .collect();
        let mut prefs: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for o in &kept {
            for l in &o.items {
                let name = self.category_names[&self.category_of(&l.product_id)].clone();
                let e = prefs.entry(name).or_default();
                e.0 += l.quantity;
                e.1 += l.total_price.0;
            }
        }
        report::UserBehavior {
            user_id: user.into(),
            period_days: days,
            orders: report::UserOrders {
                count: kept.len() as i64,
                total_spent: money(spent),
                average_order_value: ratio_money(spent, kept.len() as i64),
                last_order_date: last,
            },
            searches: report::UserSearches {
                count: searches.len() as i64,
                unique_queries: unique.len() as i64,
                searches_with_clicks: searches
                    .iter()
                    .filter(|s| self.clicked.contains(&s.id))
                    .count() as i64,
            },
            category_preferences: prefs
                .into_iter()
                .map(|(n, (q, c))| {
                    (
                        n,
                        report::CategoryPreference {
                            purchase_count: q,
                            total_spend: money(c),
                        },
                    )
                })
                .collect(),
        }
    }
}

/// Every route's answer for the windows compared.
async fn answers(store: &dyn ItemStore, w: &World) -> Vec<String> {
    let mut out = Vec::new();
    for days in [1, 7, 30, 365] {
        out.push(format!(
            "{:?}",
            report::dashboard(store, &w.months, w.today, days)
                .await
                .unwrap()
        ));
        out.push(format!(
            "{:?}",
            report::kpis(store, &w.months, w.today, days).await.unwrap()
        ));
        out.push(format!(
            "{:?}",
            report::funnel(store, &w.months, w.today, days)
                .await
                .unwrap()
        ));
        for (u, _) in &w.users {
            out.push(format!(
                "{:?}",
                report::user_behavior(store, u, w.today, days)
                    .await
                    .unwrap()
            ));
        }
    }
    for weeks in [1, 4, 12] {
        out.push(format!(
            "{:?}",
            report::cohorts(store, w.today, weeks).await.unwrap()
        ));
    }
    out
}

async fn check_against_brute_force(store: &dyn ItemStore, w: &World) {
    for days in [1, 7, 30, 365] {
        let got = report::dashboard(store, &w.months, w.today, days)
            .await
            .unwrap();
        assert_eq!(got, w.dashboard(days, &got), "dashboard, {days} days");
        let k = report::kpis(store, &w.months, w.today, days).await.unwrap();
        assert_eq!(k, w.kpis(days, &got, &k), "kpis, {days} days");
        let f = report::funnel(store, &w.months, w.today, days)
            .await
            .unwrap();
        let expected: Vec<i64> = ["view", "cart", "order"]
            .iter()
            .map(|s| w.funnel_users(s, days, None))
            .collect();
        assert_eq!(
            f.steps.iter().map(|s| s.users).collect::<Vec<_>>(),
            expected,
            "funnel {days}"
        );
        for day in &f.daily {
            let d = NaiveDate::parse_from_str(&day.date, "%Y-%m-%d").unwrap();
            assert_eq!(
                (day.viewed, day.added_to_cart, day.ordered),
                (
                    w.funnel_users("view", days, Some(d)),
                    w.funnel_users("cart", days, Some(d)),
                    w.funnel_users("order", days, Some(d))
                ),
                "funnel day {d}"
            );
        }
        for (u, _) in &w.users {
            let got = report::user_behavior(store, u, w.today, days)
                .await
                .unwrap();
            assert_eq!(got, w.behavior(u, days), "behaviour of {u}, {days} days");
        }
    }
    for weeks in [1, 4, 12] {
        let got = report::cohorts(store, w.today, weeks).await.unwrap();
        let expected = w.cohorts(weeks);
        let got: Vec<(String, i64, Vec<i64>)> = got
            .cohorts
            .into_iter()
            .map(|c| {
                (
                    c.cohort_week,
                    c.users,
                    c.weeks.iter().map(|x| x.active_users).collect(),
                )
            })
            .collect();
        assert_eq!(got, expected, "cohorts, {weeks} weeks");
    }
}

async fn every_figure_matches_brute_force_and_the_rebuild(store: Arc<dyn ItemStore>) {
    let store = store.as_ref();
    let w = build_world(store, 7).await;
    assert!(
        w.orders.len() > 10 && w.searches.len() > 10,
        "a busy enough shop"
    );
    check_against_brute_force(store, &w).await;
    months_are_their_days(store, w.today, 3).await;
    let on_write = answers(store, &w).await;
    let first = rebuild::rebuild(store, w.today).await.unwrap();
    assert_eq!(first.orders, w.orders.len());
    assert_eq!(first.searches, w.searches.len());
    assert!(first.deleted_items > 0);
    check_against_brute_force(store, &w).await;
    months_are_their_days(store, w.today, 3).await;
    assert_eq!(
        answers(store, &w).await,
        on_write,
        "rebuild = on-write figures"
    );
    let second = rebuild::rebuild(store, w.today).await.unwrap();
    assert_eq!(second.users, first.users);
    assert_eq!(
        answers(store, &w).await,
        on_write,
        "rebuilding twice changes nothing"
    );
}
