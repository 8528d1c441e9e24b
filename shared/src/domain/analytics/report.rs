//! The read side: every figure of the analytics routes from rollup reads (batch gets of the
//! month and day shards of a [`window`] plan: 12 months and a few days for a year; one query
//! for a user's days; one item per week for cohorts), never a scan of orders, users or events.
//!
//! Definitions (also in the README, "Analytics"): the window is the last `days` days (UTC),
//! today included. Rates are percentages with one decimal (0 when the denominator is 0); money
//! is summed in cents and answered in currency units.
//! - **Orders** are the orders *placed* in the window, whatever their status now;
//!   **revenue** is the `total_amount` of those not cancelled, **AOV** = revenue / orders not
//!   cancelled.
//! - **Active users**: distinct signed-in users who registered, logged in, searched, viewed a
//!   product, added to cart or ordered in the window.
//! - **Retention rate**: of the users first active *before* the window, the share active in it:
//!   (active − first active in window) / (ever active − first active in window).
//! - **Funnel**: distinct users who viewed a product / added to cart / ordered in the window
//!   (each step on its own; rate = step / previous step).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::month_cache::{self, MonthCache, MonthCounters};
use super::{FUNNEL_STEPS, UNKNOWN_CATEGORY, attr, week_of, window, ymd};
use crate::domain::orders::{OrderStatus, PAYMENT_METHODS};
use crate::domain::rec_tracking::{self, rollups::Counts as RecCounts};
use crate::domain::{catalog, stats, viewed};
use crate::money::Cents;
use crate::reco::algorithm::Family;
use crate::store::batch_get_all;
use crate::store::{Item, ItemStore, Key, PK, Query, SortKey, StoreResult, keys, query_all};

/// Parallel reads.
const READ_CONCURRENCY: usize = 16;

/// Counters by attribute name (foldhash: see [`MonthCounters`]).
pub type Counters = foldhash::HashMap<String, i64>;

fn percent(n: i64, of: i64) -> f64 {
    if of <= 0 {
        return 0.0;
    }
    (n as f64 * 1000.0 / of as f64).round() / 10.0
}

fn money(cents: i64) -> f64 {
    Cents(cents).to_f64()
}

fn get(c: &Counters, name: &str) -> i64 {
    c.get(name).copied().unwrap_or(0)
}

/// `into[name] += n`, allocating the name only the first time.
fn bump(into: &mut Counters, name: &str, n: i64) {
    match into.get_mut(name) {
        Some(v) => *v += n,
        None => {
            into.insert(name.to_string(), n);
        }
    }
}

fn add_numbers(into: &mut Counters, item: &Item) {
    for (k, v) in item {
        if let Some(n) = v.as_i64()
            && k != crate::store::EXPIRES_AT
        {
            bump(into, k, n);
        }
    }
}

/// The `days` days ending with `today`, oldest first.
pub fn period(today: NaiveDate, days: u32) -> Vec<NaiveDate> {
    rec_tracking::rollups::period(today, days)
}

/// The day keys of a window's plan (the days added, 8 shards each) and the sign of each day
/// partition (`true`: added). The months, less the days subtracted, come from
/// [`month_cache::months`].
fn plan_keys(
    plan: &window::Plan,
    day: impl Fn(NaiveDate, u32) -> Key,
) -> (Vec<Key>, HashMap<String, bool>) {
    let shards = 0..keys::ANALYTICS_SHARDS;
    let mut out: Vec<Key> = Vec::new();
    let mut signs = HashMap::new();
    for d in &plan.add_days {
        out.extend(shards.clone().map(|s| day(*d, s)));
        signs.insert(day(*d, 0).pk, true);
    }
    (out, signs)
}

/// The counters of a window: summed over the window, and per day (oldest first) the
/// [`attr::TREND`] counters only.
#[derive(Debug, Default)]
pub struct WindowTotals {
    pub total: Counters,
    pub days: Vec<(NaiveDate, Counters)>,
}

/// The day totals of the `days` days ending with `today`: whole months from the month items,
/// the days at the window's ends from the day items (see [`window`]).
pub async fn window_totals(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<WindowTotals> {
    let dates = period(today, days);
    let first = dates.first().copied().unwrap_or(today);
    let plan = window::plan(today, days);
    let (mut keys, mut signs) = plan_keys(&plan, keys::analytics_day);
    // The moving counters of the months: read every time, added like a day.
    for m in &plan.months {
        keys.extend((0..keys::ANALYTICS_SHARDS).map(|s| keys::analytics_month_moving(*m, s)));
        signs.insert(keys::analytics_month_moving(*m, 0).pk, true);
    }
    let (month_sums, items) = futures::try_join!(
        month_cache::months(
            months,
            store,
            &plan.months,
            &plan.sub_days,
            today,
            keys::analytics_month,
            keys::analytics_day,
        ),
        batch_get_all(store, &keys, READ_CONCURRENCY),
    )?;
    let mut total = Counters::default();
    let mut trend: HashMap<NaiveDate, Counters> = HashMap::new();
    for (month, counters) in &month_sums {
        for (k, &n) in counters.iter() {
            match attr::parse_trend(k) {
                Some((dd, name)) => {
                    if let Some(day) = month.with_day(dd)
                        && day >= first
                        && day <= today
                    {
                        bump(trend.entry(day).or_default(), name, n);
                    }
                }
                None => bump(&mut total, k, n),
            }
        }
    }
    for item in items.iter() {
        let Some(pk) = item.get(PK).and_then(Value::as_str) else {
            continue;
        };
        let add = signs.get(pk).copied().unwrap_or(false);
        let sign = if add { 1 } else { -1 };
        {
            let day = pk
                .strip_prefix("ANADAY#")
                .and_then(|label| NaiveDate::parse_from_str(label, "%Y-%m-%d").ok());
            for (k, v) in item {
                let Some(n) = v.as_i64() else { continue };
                if k == crate::store::EXPIRES_AT {
                    continue;
                }
                bump(&mut total, k, sign * n);
                if add
                    && attr::TREND.contains(&k.as_str())
                    && let Some(d) = day
                {
                    bump(trend.entry(d).or_default(), k, n);
                }
            }
        }
    }
    Ok(WindowTotals {
        total,
        days: dates
            .into_iter()
            .map(|d| (d, trend.remove(&d).unwrap_or_default()))
            .collect(),
    })
}

/// Quantity and revenue (cents) of products by id, borrowed from the counters they are read from.
type Sold<'a> = foldhash::HashMap<&'a str, (i64, i64)>;

/// Adds a `q_<product>` (quantity) or `r_<product>` (revenue) counter to the product's sums.
fn add_sold<'a>(sums: &mut Sold<'a>, name: &'a str, n: i64) {
    if let Some(p) = name.strip_prefix("q_") {
        sums.entry(p).or_default().0 += n;
    } else if let Some(p) = name.strip_prefix("r_") {
        sums.entry(p).or_default().1 += n;
    }
}

/// The `n` best-selling products of the window (most quantity, then revenue, then id) with
/// their quantity and revenue (cents), from the products month and day items (see [`window`]).
/// The closed months' sums are the cache's, shared; what the open months and the days add is
/// summed on top, borrowing the product ids, and only the `n` chosen are copied out.
pub async fn top_products(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
    n: usize,
) -> StoreResult<Vec<(String, (i64, i64))>> {
    let plan = window::plan(today, days);
    let (keys, signs) = plan_keys(&plan, keys::analytics_products_day);
    let (month_sums, items) = futures::try_join!(
        month_cache::months(
            months,
            store,
            &plan.months,
            &plan.sub_days,
            today,
            keys::analytics_products_month,
            keys::analytics_products_day,
        ),
        batch_get_all(store, &keys, READ_CONCURRENCY),
    )?;
    // Closed months: their sums parsed once per set of cached months; open ones every time.
    let (closed, open): (Vec<_>, Vec<_>) = month_sums
        .iter()
        .partition(|(m, _)| month_cache::is_closed(*m, today));
    let closed: Vec<Arc<MonthCounters>> = closed.into_iter().map(|(_, c)| c.clone()).collect();
    let closed_sums = months.product_sums(&closed, |parts| {
        let mut sums = Sold::default();
        for counters in parts {
            for (k, &n) in counters.iter() {
                add_sold(&mut sums, k, n);
            }
        }
        sums.into_iter().map(|(p, v)| (p.to_string(), v)).collect()
    });
    let mut added = Sold::default();
    for (_, counters) in &open {
        for (k, &n) in counters.iter() {
            add_sold(&mut added, k, n);
        }
    }
    for item in items.iter() {
        let pk = item.get(PK).and_then(Value::as_str).unwrap_or_default();
        let sign = if signs.get(pk).copied().unwrap_or(false) {
            1
        } else {
            -1
        };
        for (k, v) in item {
            if let Some(n) = v.as_i64() {
                add_sold(&mut added, k, sign * n);
            }
        }
    }
    let plus = |a: (i64, i64), b: Option<&(i64, i64)>| {
        let b = b.copied().unwrap_or_default();
        (a.0 + b.0, a.1 + b.1)
    };
    let mut all: Vec<(&str, (i64, i64))> = closed_sums
        .iter()
        .map(|(p, v)| (p.as_str(), plus(*v, added.get(p.as_str()))))
        .chain(
            added
                .iter()
                .filter(|(p, _)| !closed_sums.contains_key(**p))
                .map(|(p, v)| (*p, *v)),
        )
        .filter(|(_, (q, r))| *q != 0 || *r != 0)
        .collect();
    let best_first = |(pa, a): &(&str, (i64, i64)), (pb, b): &(&str, (i64, i64))| {
        b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(pa.cmp(pb))
    };
    if all.len() > n && n > 0 {
        all.select_nth_unstable_by(n - 1, best_first);
    }
    all.truncate(n);
    all.sort_unstable_by(best_first);
    Ok(all.into_iter().map(|(p, v)| (p.to_string(), v)).collect())
}

/// Everyone ever active (the all-time total).
async fn ever_active(store: &dyn ItemStore) -> StoreResult<i64> {
    Ok(store
        .get(&keys::analytics_totals())
        .await?
        .and_then(|i| i.get(attr::EVER_ACTIVE).and_then(Value::as_i64))
        .unwrap_or(0))
}

/// Retention rate (see the module docs).
fn retention(c: &Counters, ever: i64) -> f64 {
    let first_in_window = get(c, attr::FIRST_ACTIVE);
    percent(
        get(c, attr::ACTIVE_LAST) - first_in_window,
        ever - first_in_window,
    )
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Period {
    /// Midnight (UTC) starting the first day.
    pub start_date: String,
    /// The last second of today (UTC).
    pub end_date: String,
}

fn period_of(today: NaiveDate, days: u32) -> Period {
    let start = today - Duration::days(i64::from(days.max(1)) - 1);
    Period {
        start_date: format!("{}T00:00:00Z", ymd(start)),
        end_date: format!("{}T23:59:59Z", ymd(today)),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct DailyOrders {
    pub date: String,
    pub orders: i64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct OrdersSection {
    /// Orders placed in the window (any status).
    pub total_orders: i64,
    /// Total amount of the orders placed in the window and not cancelled.
    pub total_revenue: f64,
    /// `total_revenue` / orders not cancelled.
    pub average_order_value: f64,
    /// Current status of the window's orders (every status, zeros included).
    pub status_breakdown: BTreeMap<String, i64>,
    pub payment_method_breakdown: BTreeMap<String, i64>,
    /// By the order's `recommendation_source`; `direct` without one.
    pub recommendation_source_breakdown: BTreeMap<String, i64>,
    /// Every day of the window, oldest first.
    pub daily_trend: Vec<DailyOrders>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UsersSection {
    /// Accounts created in the window.
    pub new_users: i64,
    /// Distinct users active in the window.
    pub active_users: i64,
    /// Percent (see the README).
    pub retention_rate: f64,
    /// Now (all accounts, not only the window's).
    pub users_with_addresses: i64,
    /// Now (all accounts).
    pub users_with_viewed_products: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct TopProduct {
    pub product_id: String,
    /// Empty when the product no longer exists.
    pub name: String,
    pub code: String,
    pub quantity_sold: i64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CategoryPerformance {
    pub category_id: String,
    pub category_name: String,
    /// Orders (not cancelled) with at least one line of the category.
    pub orders: i64,
    /// Sum of those lines' totals.
    pub revenue: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ProductsSection {
    /// The 10 best sellers by quantity (then revenue, then id), orders not cancelled.
    pub top_products: Vec<TopProduct>,
    /// Best revenue first.
    pub category_performance: Vec<CategoryPerformance>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SearchSection {
    pub total_searches: i64,
    /// Searches with at least one result click, percent.
    pub click_through_rate: f64,
    /// Mean latency, whole milliseconds.
    pub average_response_time_ms: i64,
    /// Searches without results, percent.
    pub zero_result_rate: f64,
    /// Distinct normalised queries in the window.
    pub unique_queries: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AlgorithmPerformance {
    pub algorithm: String,
    pub total_recommendations: i64,
    pub click_rate: f64,
    pub conversion_rate: f64,
    pub average_score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct RecommendationsSection {
    /// Items served, every family but `hybrid` (each item once).
    pub total_recommendations: i64,
    pub overall_click_rate: f64,
    pub overall_conversion_rate: f64,
    pub algorithm_performance: Vec<AlgorithmPerformance>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Dashboard {
    pub period: Period,
    pub orders: OrdersSection,
    pub users: UsersSection,
    pub products: ProductsSection,
    pub search: SearchSection,
    pub recommendations: RecommendationsSection,
}

fn aov(c: &Counters) -> f64 {
    let orders = get(c, attr::KEPT_ORDERS);
    if orders <= 0 {
        return 0.0;
    }
    money((get(c, attr::KEPT_REVENUE) as f64 / orders as f64).round() as i64)
}

fn breakdown(c: &Counters, prefix: &str) -> BTreeMap<String, i64> {
    c.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_string(), *v)))
        .filter(|(_, v)| *v != 0)
        .collect()
}

/// Per category: (orders, revenue cents), from the `cat_<id>_orders` / `cat_<id>_cents` counters.
fn categories(c: &Counters) -> BTreeMap<String, (i64, i64)> {
    let mut out: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (k, v) in c {
        let Some(rest) = k.strip_prefix("cat_") else {
            continue;
        };
        if let Some(id) = rest.strip_suffix("_orders") {
            out.entry(id.to_string()).or_default().0 += v;
        } else if let Some(id) = rest.strip_suffix("_cents") {
            out.entry(id.to_string()).or_default().1 += v;
        }
    }
    out.retain(|_, (o, r)| *o != 0 || *r != 0);
    out
}

async fn recommendations(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<(RecommendationsSection, HashMap<Family, RecCounts>)> {
    let per_family = rec_tracking::rollups::totals_by_family(store, months, today, days).await?;
    let mut overall = RecCounts::default();
    let mut algorithms = Vec::new();
    for family in Family::ALL {
        let c = per_family.get(&family).copied().unwrap_or_default();
        if rec_tracking::OWN_FAMILIES.contains(&family) {
            overall.add(c);
        }
        algorithms.push(AlgorithmPerformance {
            algorithm: family.name().into(),
            total_recommendations: c.impressions,
            click_rate: c.click_rate(),
            conversion_rate: c.conversion_rate(),
            average_score: c.average_score(),
        });
    }
    Ok((
        RecommendationsSection {
            total_recommendations: overall.impressions,
            overall_click_rate: overall.click_rate(),
            overall_conversion_rate: overall.conversion_rate(),
            algorithm_performance: algorithms,
        },
        per_family,
    ))
}

/// The comprehensive dashboard of the last `days` days.
pub async fn dashboard(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<Dashboard> {
    let (window, top, ever, recs, with_addresses, with_viewed, cats) = futures::try_join!(
        window_totals(store, months, today, days),
        top_products(store, months, today, days, super::TOP_PRODUCTS),
        ever_active(store),
        recommendations(store, months, today, days),
        stats::total(store, "users_with_addresses"),
        stats::total(store, viewed::USERS_WITH_VIEWED),
        catalog::list_categories(store),
    )?;
    let WindowTotals {
        total: c,
        days: by_day,
    } = window;
    let ids: Vec<String> = top.iter().map(|(id, _)| id.clone()).collect();
    let records = catalog::get_products(store, &ids).await?;
    let top_products = top
        .into_iter()
        .map(|(id, (q, r))| {
            let p = records.iter().find(|p| p.id == id);
            TopProduct {
                name: p.map(|p| p.name.clone()).unwrap_or_default(),
                code: p.map(|p| p.code.clone()).unwrap_or_default(),
                product_id: id,
                quantity_sold: q,
                revenue: money(r),
            }
        })
        .collect();
    let names: HashMap<&str, &str> = cats
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let mut category_performance: Vec<CategoryPerformance> = categories(&c)
        .into_iter()
        .map(|(id, (orders, cents))| CategoryPerformance {
            category_name: names
                .get(id.as_str())
                .copied()
                .unwrap_or(if id == UNKNOWN_CATEGORY {
                    UNKNOWN_CATEGORY
                } else {
                    ""
                })
                .to_string(),
            category_id: id,
            orders,
            revenue: money(cents),
        })
        .collect();
    category_performance.sort_by(|a, b| {
        b.revenue
            .total_cmp(&a.revenue)
            .then(b.orders.cmp(&a.orders))
            .then(a.category_id.cmp(&b.category_id))
    });
    let mut status_breakdown = BTreeMap::new();
    for s in OrderStatus::ALL {
        status_breakdown.insert(s.as_str().to_string(), get(&c, &attr::status(s.as_str())));
    }
    let searches = get(&c, attr::SEARCHES);
    Ok(Dashboard {
        period: period_of(today, days),
        orders: OrdersSection {
            total_orders: get(&c, attr::ORDERS),
            total_revenue: money(get(&c, attr::KEPT_REVENUE)),
            average_order_value: aov(&c),
            status_breakdown,
            payment_method_breakdown: breakdown(&c, "pay_"),
            recommendation_source_breakdown: breakdown(&c, "src_"),
            daily_trend: by_day
                .iter()
                .map(|(d, dc)| DailyOrders {
                    date: ymd(*d),
                    orders: get(dc, attr::ORDERS),
                    revenue: money(get(dc, attr::KEPT_REVENUE)),
                })
                .collect(),
        },
        users: UsersSection {
            new_users: get(&c, attr::NEW_USERS),
            active_users: get(&c, attr::ACTIVE_LAST),
            retention_rate: retention(&c, ever),
            users_with_addresses: with_addresses,
            users_with_viewed_products: with_viewed,
        },
        products: ProductsSection {
            top_products,
            category_performance,
        },
        search: SearchSection {
            total_searches: searches,
            click_through_rate: percent(get(&c, attr::SEARCH_CLICKED), searches),
            average_response_time_ms: if searches > 0 {
                (get(&c, attr::SEARCH_MS) as f64 / searches as f64).round() as i64
            } else {
                0
            },
            zero_result_rate: percent(get(&c, attr::SEARCH_ZERO), searches),
            unique_queries: get(&c, attr::UNIQUE_QUERIES_LAST),
        },
        recommendations: recs.0,
    })
}

/// The KPIs of spec 002 (each defined in the README, "Analytics").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Kpis {
    pub period_days: u32,
    /// Distinct users who ordered / distinct active users, percent.
    pub conversion_rate: f64,
    /// Revenue / orders not cancelled.
    pub average_order_value: f64,
    /// Revenue / distinct active users.
    pub revenue_per_user: f64,
    /// Cash-on-delivery orders / orders placed, percent.
    pub cod_adoption_rate: f64,
    /// Recommendation clicks / items served (all families but hybrid), percent.
    pub recommendation_click_rate: f64,
    /// Attributed conversions / items served, percent.
    pub recommendation_conversion_rate: f64,
    /// Click rate of the collaborative family, percent.
    pub collaborative_algorithm_performance: f64,
    /// Click rate of the content-based family, percent.
    pub content_algorithm_performance: f64,
    /// Click rate of the hybrid family (blended lists), percent.
    pub hybrid_algorithm_performance: f64,
    /// Searches with results / searches, percent.
    pub search_success_rate: f64,
    /// Searches with a result click / searches, percent.
    pub search_click_through_rate: f64,
    /// Mean search latency, milliseconds.
    pub average_search_response_time: i64,
    /// Searches without results / searches, percent.
    pub zero_result_rate: f64,
    /// See [`UsersSection::retention_rate`].
    pub user_retention_rate: f64,
    /// Accounts created in the window / distinct active users, percent.
    pub new_user_percentage: f64,
    /// Of the accounts created in the window, those that have placed an order, percent.
    pub user_activation_rate: f64,
}

pub async fn kpis(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<Kpis> {
    let (window, ever, recs) = futures::try_join!(
        window_totals(store, months, today, days),
        ever_active(store),
        recommendations(store, months, today, days),
    )?;
    let c = window.total;
    let (section, fam) = recs;
    let click = |f: Family| fam.get(&f).map(RecCounts::click_rate).unwrap_or(0.0);
    let active = get(&c, attr::ACTIVE_LAST);
    let searches = get(&c, attr::SEARCHES);
    let new_users = get(&c, attr::NEW_USERS);
    Ok(Kpis {
        period_days: days,
        conversion_rate: percent(get(&c, &attr::funnel_last("order")), active),
        average_order_value: aov(&c),
        revenue_per_user: if active > 0 {
            money((get(&c, attr::KEPT_REVENUE) as f64 / active as f64).round() as i64)
        } else {
            0.0
        },
        cod_adoption_rate: percent(
            get(&c, &attr::payment("cash_on_delivery")),
            get(&c, attr::ORDERS),
        ),
        recommendation_click_rate: section.overall_click_rate,
        recommendation_conversion_rate: section.overall_conversion_rate,
        collaborative_algorithm_performance: click(Family::Collaborative),
        content_algorithm_performance: click(Family::ContentBased),
        hybrid_algorithm_performance: click(Family::Hybrid),
        search_success_rate: percent(searches - get(&c, attr::SEARCH_ZERO), searches),
        search_click_through_rate: percent(get(&c, attr::SEARCH_CLICKED), searches),
        average_search_response_time: if searches > 0 {
            (get(&c, attr::SEARCH_MS) as f64 / searches as f64).round() as i64
        } else {
            0
        },
        zero_result_rate: percent(get(&c, attr::SEARCH_ZERO), searches),
        user_retention_rate: retention(&c, ever),
        new_user_percentage: percent(new_users, active),
        user_activation_rate: percent(get(&c, attr::ACTIVATED), new_users),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FunnelStep {
    /// `viewed`, `added_to_cart`, `ordered`.
    pub step: String,
    /// Distinct users who did it in the window.
    pub users: i64,
    /// Users of this step / users of the previous one, percent (100 for the first).
    pub conversion_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FunnelDay {
    pub date: String,
    pub viewed: i64,
    pub added_to_cart: i64,
    pub ordered: i64,
    /// Ordered / viewed, percent.
    pub conversion_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Funnel {
    pub period: Period,
    pub steps: Vec<FunnelStep>,
    /// Ordered / viewed over the window, percent.
    pub overall_conversion_rate: f64,
    /// Every day of the window, oldest first (distinct users of that day).
    pub daily: Vec<FunnelDay>,
}

const STEP_NAMES: [&str; 3] = ["viewed", "added_to_cart", "ordered"];

pub async fn funnel(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    days: u32,
) -> StoreResult<Funnel> {
    let WindowTotals {
        total: c,
        days: by_day,
    } = window_totals(store, months, today, days).await?;
    let users: Vec<i64> = FUNNEL_STEPS
        .iter()
        .map(|s| get(&c, &attr::funnel_last(s)))
        .collect();
    let steps = STEP_NAMES
        .iter()
        .zip(&users)
        .enumerate()
        .map(|(i, (name, &n))| FunnelStep {
            step: (*name).into(),
            users: n,
            conversion_rate: match i.checked_sub(1).and_then(|p| users.get(p)) {
                Some(&prev) => percent(n, prev),
                None => 100.0,
            },
        })
        .collect();
    let first = users.first().copied().unwrap_or(0);
    let last = users.last().copied().unwrap_or(0);
    Ok(Funnel {
        period: period_of(today, days),
        steps,
        overall_conversion_rate: percent(last, first),
        daily: by_day
            .iter()
            .map(|(d, dc)| {
                let viewed = get(dc, &attr::funnel("view"));
                let ordered = get(dc, &attr::funnel("order"));
                FunnelDay {
                    date: ymd(*d),
                    viewed,
                    added_to_cart: get(dc, &attr::funnel("cart")),
                    ordered,
                    conversion_rate: percent(ordered, viewed),
                }
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CohortWeek {
    /// 0: the sign-up week.
    pub week_offset: u32,
    pub week_start: String,
    pub active_users: i64,
    /// Active users / cohort size, percent.
    pub retention_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Cohort {
    /// Monday (UTC) starting the sign-up week.
    pub cohort_week: String,
    /// Accounts created that week.
    pub users: i64,
    /// The sign-up week and each following week up to the current one.
    pub weeks: Vec<CohortWeek>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Cohorts {
    pub weeks: u32,
    /// Oldest first.
    pub cohorts: Vec<Cohort>,
}

/// Sign-up week cohorts of the last `weeks` weeks (the current one included).
pub async fn cohorts(store: &dyn ItemStore, today: NaiveDate, weeks: u32) -> StoreResult<Cohorts> {
    let current = week_of(today);
    let mondays: Vec<NaiveDate> = (0..i64::from(weeks))
        .rev()
        .map(|back| current - Duration::weeks(back))
        .collect();
    let keys: Vec<Key> = mondays.iter().map(|m| keys::analytics_week(*m)).collect();
    let mut by_week: HashMap<String, Counters> = HashMap::new();
    for item in store.batch_get(&keys).await? {
        if let Some(pk) = item.get(PK).and_then(Value::as_str) {
            let mut c = Counters::default();
            add_numbers(&mut c, &item);
            by_week.insert(pk.trim_start_matches("ANAWEEK#").to_string(), c);
        }
    }
    let empty = Counters::default();
    let cohorts = mondays
        .iter()
        .map(|&cohort| {
            let label = ymd(cohort);
            let size = get(by_week.get(&label).unwrap_or(&empty), attr::SIGNUPS);
            let weeks = mondays
                .iter()
                .filter(|&&w| w >= cohort)
                .enumerate()
                .map(|(offset, &w)| {
                    let active = get(
                        by_week.get(&ymd(w)).unwrap_or(&empty),
                        &attr::cohort_active(&label),
                    );
                    CohortWeek {
                        week_offset: offset as u32,
                        week_start: ymd(w),
                        active_users: active,
                        retention_rate: percent(active, size),
                    }
                })
                .collect();
            Cohort {
                cohort_week: label,
                users: size,
                weeks,
            }
        })
        .collect();
    Ok(Cohorts { weeks, cohorts })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UserOrders {
    /// Orders placed in the window and not cancelled.
    pub count: i64,
    pub total_spent: f64,
    pub average_order_value: f64,
    /// The latest order placed in the window (any status), if any.
    pub last_order_date: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UserSearches {
    pub count: i64,
    pub unique_queries: i64,
    /// Searches with at least one result click.
    pub searches_with_clicks: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CategoryPreference {
    /// Items bought (quantities), orders not cancelled.
    pub purchase_count: i64,
    pub total_spend: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct UserBehavior {
    pub user_id: String,
    pub period_days: u32,
    pub orders: UserOrders,
    pub searches: UserSearches,
    /// By category name (the id when the category no longer exists).
    pub category_preferences: BTreeMap<String, CategoryPreference>,
}

/// One user's behaviour over the window: one query of their day items.
pub async fn user_behavior(
    store: &dyn ItemStore,
    user_id: &str,
    today: NaiveDate,
    days: u32,
) -> StoreResult<UserBehavior> {
    let start = today - Duration::days(i64::from(days.max(1)) - 1);
    let q = Query::table(keys::analytics_user_pk(user_id)).sk(SortKey::Between(
        keys::analytics_user_day(user_id, start).sk,
        keys::analytics_user_day(user_id, today).sk,
    ));
    let (items, cats) = futures::try_join!(query_all(store, q), catalog::list_categories(store))?;
    let mut c = Counters::default();
    let mut last_order: Option<String> = None;
    for item in &items {
        add_numbers(&mut c, item);
        if let Some(at) = item.get(attr::LAST_ORDER_AT).and_then(Value::as_str)
            && last_order.as_deref().is_none_or(|l| l < at)
        {
            last_order = Some(at.to_string());
        }
    }
    let names: HashMap<&str, &str> = cats
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let mut per_cat: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (k, v) in &c {
        let Some(rest) = k.strip_prefix("cat_") else {
            continue;
        };
        let (id, slot) = if let Some(id) = rest.strip_suffix("_n") {
            (id, 0)
        } else if let Some(id) = rest.strip_suffix("_cents") {
            (id, 1)
        } else {
            continue;
        };
        let name = names.get(id).map_or(id.to_string(), |s| s.to_string());
        let e = per_cat.entry(name).or_default();
        if slot == 0 {
            e.0 += v;
        } else {
            e.1 += v;
        }
    }
    let prefs: BTreeMap<String, CategoryPreference> = per_cat
        .into_iter()
        .filter(|(_, (n, cents))| *n != 0 || *cents != 0)
        .map(|(name, (n, cents))| {
            (
                name,
                CategoryPreference {
                    purchase_count: n,
                    total_spend: money(cents),
                },
            )
        })
        .collect();
    let orders = get(&c, attr::ORDERS);
    let spent = get(&c, attr::SPENT);
    Ok(UserBehavior {
        user_id: user_id.to_string(),
        period_days: days,
        orders: UserOrders {
            count: orders,
            total_spent: money(spent),
            average_order_value: if orders > 0 {
                money((spent as f64 / orders as f64).round() as i64)
            } else {
                0.0
            },
            last_order_date: last_order,
        },
        searches: UserSearches {
            count: get(&c, attr::SEARCHES),
            unique_queries: get(&c, attr::UNIQUE_QUERIES_LAST),
            searches_with_clicks: get(&c, attr::SEARCHES_WITH_CLICKS),
        },
        category_preferences: prefs,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Overview {
    pub total_products: i64,
    pub active_products: i64,
    pub total_users: i64,
    /// Accounts created today (UTC).
    pub new_users_today: i64,
    pub total_orders: i64,
    /// Orders placed in the last 365 days that are pending now.
    pub pending_orders: i64,
    /// Searches of the last 7 days, today included.
    pub recent_searches: i64,
}

/// The figures of the overview that come from the rollups and counters (the product counts come
/// from the caller's catalog snapshot).
pub async fn overview(
    store: &dyn ItemStore,
    months: &MonthCache,
    today: NaiveDate,
    total_products: i64,
    active_products: i64,
) -> StoreResult<Overview> {
    let (year, week, today_counts, users, orders) = futures::try_join!(
        window_totals(store, months, today, 365),
        window_totals(store, months, today, 7),
        window_totals(store, months, today, 1),
        stats::total(store, "users"),
        stats::total(store, crate::domain::orders::ORDERS_COUNTER),
    )?;
    let (all, week, today_counts) = (year.total, week.total, today_counts.total);
    Ok(Overview {
        total_products,
        active_products,
        total_users: users,
        new_users_today: get(&today_counts, attr::NEW_USERS),
        total_orders: orders,
        pending_orders: get(&all, &attr::status("pending")),
        recent_searches: get(&week, attr::SEARCHES),
    })
}

/// The payment methods an order can have (for breakdowns that want every method listed).
pub fn payment_methods() -> &'static [&'static str] {
    &PAYMENT_METHODS
}
