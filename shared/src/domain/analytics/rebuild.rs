//! The `analytics-rebuild` job: every analytics rollup recomputed from the raw records, for
//! after an import or a change of definitions. Not scheduled.
//!
//! 1. Every analytics item (day and month rollups, markers, pointers; not the login days, which
//!    are raw records) and every recommendation month total is deleted: a segmented scan of the
//!    table, the one place analytics scans. The same scan collects the raw search logs and
//!    interaction events of step 2, which would otherwise take 17 queries per day kept.
//! 2. The raw records are replayed through [`super::record`], the same code the request paths
//!    call, so the rebuilt figures are the on-write figures by construction: users (sign-up),
//!    login days (and each account's `last_login`), every order with its current status, the
//!    search logs and their clicks of the last 90 days (the logs' retention), and the product
//!    views and cart adds of the interaction log's raw events (kept 90 days).
//!
//! 3. Every month's version is bumped (`month_cache`): no instance serves a month cached before.
//! 4. The recommendation month totals (`RECMON#`) are summed from the recommendation day
//!    totals (`RECDAY#`) the scan found: those day items are the recommendation counters' own
//!    record (`rec_tracking`), not rebuilt here.
//!
//! The replay's writes are `ADD`s that commute, and markers and pointers make repeated or
//! reordered events count once, so events are replayed concurrently. Running it twice gives the
//! same figures (step 1 starts from nothing each time). Traffic during a rebuild can be counted
//! twice or lost (its markers may be deleted under it): run it in a quiet moment.
//!
//! What cannot be rebuilt: views of signed-out visitors without a guest cart (the interaction
//! log has no actor for them), logins before login days were recorded (only the last one), and
//! searches and views older than the raw records' 90 days.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde_json::Value;

use super::window::{month_end, month_of};
use super::{Event, record};
use crate::domain::catalog::search::SearchLog;
use crate::domain::interactions::{self, Actor, InteractionKind, RawEvent};
use crate::domain::orders::{self, OrderRecord};
use crate::store::{
    EXPIRES_AT, GSI1PK, GSI1SK, Item, ItemStore, Key, PK, Query, Scan, StoreResult, Update,
    from_item, keys, query_all,
};

/// The fields of an account the replay needs.
struct UserRow {
    id: String,
    created_at: String,
    last_login: Option<String>,
}

/// Parallel segments of the deleting scan, and parallel writes.
const SEGMENTS: u32 = 4;
const CONCURRENCY: usize = 16;
/// Days of raw searches and events read (their retention).
const RAW_DAYS: i64 = 90;

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RebuildReport {
    pub deleted_items: usize,
    pub users: usize,
    pub logins: usize,
    pub orders: usize,
    pub searches: usize,
    pub search_clicks: usize,
    pub views: usize,
    pub cart_adds: usize,
    /// Recommendation month totals written (from the day totals).
    pub rec_months: usize,
}

fn is_analytics(pk: &str) -> bool {
    keys::ANALYTICS_PK_PREFIXES
        .iter()
        .any(|p| pk.starts_with(p))
}

/// What the scan of one segment found.
#[derive(Default)]
struct Found {
    /// Analytics items and recommendation month totals, to delete.
    delete: Vec<Key>,
    /// Login days to keep (user, day).
    logins: Vec<(String, NaiveDate)>,
    /// The recommendation day totals (the month totals are rebuilt from them).
    rec_days: Vec<Item>,
    /// The raw interaction events of the last [`RAW_DAYS`].
    events: Vec<RawEvent>,
    /// The search logs of the last [`RAW_DAYS`], with their index sort key (their order in a day).
    searches: Vec<(String, SearchLog)>,
}

/// The partitions of the raw records the replay reads: found by the scan that finds the items
/// to delete, rather than by 16 event queries and one search-log query per day (1,530 queries
/// for 90 days, almost all of empty partitions).
struct RawPartitions {
    events: HashSet<String>,
    search_days: HashSet<String>,
}

impl RawPartitions {
    fn of_days(days: &[NaiveDate]) -> Self {
        Self {
            events: days
                .iter()
                .flat_map(|d| interactions::event_pks_of_day(*d))
                .collect(),
            search_days: days
                .iter()
                .map(|d| keys::search_log_day_pk(&super::ymd(*d)))
                .collect(),
        }
    }
}

async fn scan_segment(
    store: &dyn ItemStore,
    segment: u32,
    raw: &RawPartitions,
) -> StoreResult<Found> {
    let mut cursor = None;
    let mut found = Found::default();
    loop {
        let page = store
            .scan(Scan {
                segment,
                total_segments: SEGMENTS,
                limit: Some(500),
                cursor,
            })
            .await?;
        for item in page.items {
            let Some(key) = Key::of(&item) else { continue };
            if raw.events.contains(&key.pk) {
                found.events.extend(interactions::raw_event_of(&item));
                continue;
            }
            if let Some(day) = item.get(GSI1PK).and_then(Value::as_str)
                && raw.search_days.contains(day)
            {
                let order = item.get(GSI1SK).and_then(Value::as_str).unwrap_or_default();
                found
                    .searches
                    .push((format!("{day}#{order}"), from_item(item)?));
                continue;
            }
            if key.pk.starts_with(keys::REC_DAY_PK_PREFIX) {
                found.rec_days.push(item);
                continue;
            }
            if key.pk.starts_with(keys::REC_MONTH_PK_PREFIX) {
                found.delete.push(key);
                continue;
            }
            if !is_analytics(&key.pk) {
                continue;
            }
            if let Some(day) = key.sk.strip_prefix(keys::LOGIN_DAY_PREFIX) {
                if let (Some(user), Ok(d)) = (
                    key.pk.strip_prefix("ANAUSER#"),
                    NaiveDate::parse_from_str(day, "%Y-%m-%d"),
                ) {
                    found.logins.push((user.to_string(), d));
                }
                continue;
            }
            found.delete.push(key);
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(found),
        }
    }
}

fn at_of(rfc3339: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Recomputes every analytics rollup from the raw records (see the module docs).
pub async fn rebuild(store: &dyn ItemStore, today: NaiveDate) -> StoreResult<RebuildReport> {
    let mut report = RebuildReport::default();
    let days: Vec<NaiveDate> = (0..RAW_DAYS).map(|b| today - Duration::days(b)).collect();
    let raw = RawPartitions::of_days(&days);
    let scans: Vec<_> = (0..SEGMENTS)
        .map(|s| scan_segment(store, s, &raw))
        .collect();
    let mut delete = Vec::new();
    let mut logins = Vec::new();
    let mut rec_days = Vec::new();
    let mut events = Vec::new();
    let mut searches = Vec::new();
    for f in futures::future::try_join_all(scans).await? {
        delete.extend(f.delete);
        logins.extend(f.logins);
        rec_days.extend(f.rec_days);
        events.extend(f.events);
        searches.extend(f.searches);
    }
    report.deleted_items = delete.len();
    stream::iter(delete.iter().map(|k| store.delete(k, None)))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    report.rec_months = rec_months(store, &rec_days).await?;

    let users: Vec<UserRow> = query_all(
        store,
        Query::gsi1(keys::USERS_INDEX_PK).project(&["id", "created_at", "last_login"]),
    )
    .await?
    .into_iter()
    .filter_map(|item| {
        let get = |a: &str| item.get(a).and_then(Value::as_str).map(str::to_string);
        Some(UserRow {
            id: get("id")?,
            created_at: get("created_at")?,
            last_login: get("last_login"),
        })
    })
    .collect();
    report.users = users.len();
    let created: Vec<(String, DateTime<Utc>)> = users
        .iter()
        .filter_map(|u| Some((u.id.clone(), at_of(&u.created_at)?)))
        .collect();
    replay(
        store,
        created
            .iter()
            .map(|(user_id, at)| Event::UserCreated { user_id, at: *at }),
    )
    .await?;

    let mut login_events: Vec<(String, DateTime<Utc>)> = logins
        .into_iter()
        .filter_map(|(u, d)| Some((u, d.and_hms_opt(12, 0, 0)?.and_utc())))
        .collect();
    for u in &users {
        if let Some(at) = u.last_login.as_deref().and_then(at_of) {
            login_events.push((u.id.clone(), at));
        }
    }
    report.logins = login_events.len();
    replay(
        store,
        login_events
            .iter()
            .map(|(user_id, at)| Event::Login { user_id, at: *at }),
    )
    .await?;

    let orders: Vec<OrderRecord> = query_all(store, Query::gsi2(keys::ALL_ORDERS_PK))
        .await?
        .into_iter()
        .map(orders::order_from_item)
        .collect::<Result<_, _>>()?;
    report.orders = orders.len();
    replay(store, orders.iter().map(Event::OrderPlaced)).await?;

    // A day's logs in their index order, as its query would list them.
    searches.sort_by(|a, b| a.0.cmp(&b.0));
    let logs: Vec<SearchLog> = searches.into_iter().map(|(_, log)| log).collect();
    report.searches = logs.len();
    replay(store, logs.iter().map(Event::Search)).await?;
    let click_keys: Vec<Key> = logs.iter().map(|l| keys::search_clicks(&l.id)).collect();
    let mut clicked: Vec<String> = Vec::new();
    for chunk in click_keys.chunks(100) {
        for item in store.batch_get(chunk).await? {
            if item.get("clicks").and_then(Value::as_i64).unwrap_or(0) > 0
                && let Some(pk) = item.get(PK).and_then(Value::as_str)
            {
                clicked.push(pk.trim_start_matches("SEARCH#").to_string());
            }
        }
    }
    report.search_clicks = clicked.len();
    replay(
        store,
        clicked
            .iter()
            .map(|id| Event::SearchClick { search_id: id }),
    )
    .await?;

    events.sort_by_key(|e| e.4);
    let mut views: Vec<(Option<String>, String, DateTime<Utc>)> = Vec::new();
    let mut carts: Vec<(Option<String>, String, DateTime<Utc>)> = Vec::new();
    for (actor, product, kind, count, millis) in events {
        if count <= 0 {
            continue;
        }
        let Some(at) = DateTime::from_timestamp_millis(millis) else {
            continue;
        };
        let user = match Actor::from_log_id(&actor) {
            Actor::User(u) => Some(u),
            Actor::Guest(_) => None,
        };
        match kind {
            InteractionKind::View => views.push((user, product, at)),
            InteractionKind::Cart => carts.push((user, product, at)),
            _ => {}
        }
    }
    report.views = views.len();
    report.cart_adds = carts.len();
    replay(
        store,
        views.iter().map(|(u, p, at)| Event::ProductView {
            user_id: u.as_deref(),
            product_id: p,
            at: *at,
        }),
    )
    .await?;
    replay(
        store,
        carts.iter().map(|(u, p, at)| Event::CartAdd {
            user_id: u.as_deref(),
            product_id: p,
            at: *at,
        }),
    )
    .await?;
    // Months whose items were deleted and nothing replayed into them: their cached copies go too.
    let mut months = Vec::new();
    let mut month = month_of(today - Duration::days(super::ROLLUP_RETENTION_DAYS + 31));
    while month <= today {
        months.push(month);
        month = month_end(month) + Duration::days(1);
    }
    super::month_cache::bump(store, &months).await?;
    Ok(report)
}

/// The recommendation month totals (`RECMON#`), each the sum of its shard's day totals
/// (`RECDAY#`, the recommendation counters' own record): the number of items written.
async fn rec_months(store: &dyn ItemStore, days: &[Item]) -> StoreResult<usize> {
    let mut months: BTreeMap<(NaiveDate, String), BTreeMap<&str, i64>> = BTreeMap::new();
    for item in days {
        let Some(key) = Key::of(item) else { continue };
        let Some(day) = key
            .pk
            .strip_prefix(keys::REC_DAY_PK_PREFIX)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let sums = months.entry((month_of(day), key.sk.clone())).or_default();
        for (k, v) in item {
            if let Some(n) = v.as_i64()
                && k != EXPIRES_AT
            {
                *sums.entry(k.as_str()).or_default() += n;
            }
        }
    }
    let mut writes = Vec::new();
    for ((month, shard), sums) in &months {
        let Ok(shard) = shard.parse::<u32>() else {
            continue;
        };
        let expires = month_end(*month)
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp())
            + crate::domain::rec_tracking::rollups::ROLLUP_RETENTION_DAYS * 24 * 3600;
        let mut update = Update::new().set(EXPIRES_AT, expires);
        for (k, n) in sums {
            update = update.add(*k, *n);
        }
        let key = keys::rec_month_totals(*month, shard);
        writes.push(async move { store.update(&key, update, None).await.map(drop) });
    }
    let n = writes.len();
    stream::iter(writes)
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(n)
}

async fn replay<'a>(
    store: &dyn ItemStore,
    events: impl Iterator<Item = Event<'a>>,
) -> StoreResult<()> {
    let writes: Vec<_> = events.map(|e| record(store, e)).collect();
    stream::iter(writes)
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
