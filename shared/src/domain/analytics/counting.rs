//! The write side of the analytics rollups: the `ADD`s of one event gathered per item and issued
//! together ([`Adds`]), the once-a-day markers (conditional puts with a TTL) and the last/first
//! day pointers behind the exact distinct counts of a window (see the parent module).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Utc};
use serde_json::Value;

use super::window::{month_end, month_of};
use super::{ROLLUP_RETENTION_DAYS, attr, day_of, normalise_query, week_of, ymd};
use crate::domain::catalog::search::{SEARCH_LOG_TTL_SECONDS, SearchLog};
use crate::domain::users;
use crate::store::{
    Condition, EXPIRES_AT, Item, ItemStore, Key, PK, SK, StoreError, StoreResult, Update, keys,
};

const DAY_SECS: i64 = 24 * 3600;
/// How long a day marker outlives the later of its day and its write.
const MARKER_GRACE_SECS: i64 = 3 * DAY_SECS;
/// Attempts of a pointer move against concurrent moves of the same pointer.
const POINTER_ATTEMPTS: usize = 10;

const ATTR_LAST_DAY: &str = "last_day";
const ATTR_SIGNUP_DAY: &str = "signup_day";
const ATTR_LAST_ACTIVE: &str = "last_active";
const ATTR_FIRST_ACTIVE: &str = "first_active";
const ATTR_ACTIVATED: &str = "activated";

fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
}

/// The `expires_at` of a rollup item of `day`.
pub(super) fn rollup_expiry(day: NaiveDate) -> i64 {
    day_start(day) + ROLLUP_RETENTION_DAYS * DAY_SECS
}

/// The `expires_at` of a marker of a period ending with `last_day`: a few days after the later
/// of that day and now (so markers written for past days, by the rebuild or the demo, last
/// through the run that writes them).
fn marker_expiry(last_day: NaiveDate) -> i64 {
    (day_start(last_day) + DAY_SECS).max(Utc::now().timestamp()) + MARKER_GRACE_SECS
}

/// An item a rollup `ADD` goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Target {
    /// The day totals (a random shard per write).
    Day(NaiveDate),
    /// The day's sales per product (a random shard per write).
    Products(NaiveDate),
    UserDay(String, NaiveDate),
    Week(NaiveDate),
    Totals,
}

/// The `ADD`s of one event, per item.
#[derive(Debug, Default)]
pub(super) struct Adds {
    targets: BTreeMap<Target, BTreeMap<String, i64>>,
}

impl Adds {
    pub(super) fn add(&mut self, target: Target, attr: impl Into<String>, by: i64) {
        *self
            .targets
            .entry(target)
            .or_default()
            .entry(attr.into())
            .or_default() += by;
    }

    /// One `UpdateItem` per item, all issued together ([`ItemStore::update_many`]: one write
    /// transaction locally). The day totals and products are mirrored into their months (see
    /// [`super::window`]): the totals on the same random shard, the products on their product's
    /// shard, and the daily-list counters also as `t<dd>_<counter>` of the month. The counters
    /// that move on past days all the time ([`attr::is_moving`]) go to the month's own
    /// "moving" item, which is never cached; the others bump the month's version when the month
    /// has ended (`month_cache`).
    pub(super) async fn flush(self, store: &dyn ItemStore) -> StoreResult<()> {
        let shard = rand::random_range(0..keys::ANALYTICS_SHARDS);
        let mut months: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
        let mut product_months: BTreeMap<(NaiveDate, u32), BTreeMap<String, i64>> = BTreeMap::new();
        let mut moving: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
        let mut updates: Vec<(Key, Update)> = Vec::new();
        for (target, counters) in self.targets {
            let counters: Vec<(String, i64)> =
                counters.into_iter().filter(|(_, n)| *n != 0).collect();
            if counters.is_empty() {
                continue;
            }
            let (key, mut update) = match &target {
                Target::Day(d) => {
                    for (a, n) in &counters {
                        if attr::is_moving(a) {
                            *moving
                                .entry(month_of(*d))
                                .or_default()
                                .entry(a.clone())
                                .or_default() += n;
                            continue;
                        }
                        let month = months.entry(month_of(*d)).or_default();
                        *month.entry(a.clone()).or_default() += n;
                        if attr::TREND.contains(&a.as_str()) {
                            *month.entry(attr::trend(d.day(), a)).or_default() += n;
                        }
                    }
                    (
                        keys::analytics_day(*d, shard),
                        Update::new().set(EXPIRES_AT, rollup_expiry(*d)),
                    )
                }
                Target::Products(d) => {
                    for (a, n) in &counters {
                        let product = a
                            .strip_prefix("q_")
                            .or_else(|| a.strip_prefix("r_"))
                            .unwrap_or(a);
                        let s = keys::analytics_product_shard(product);
                        *product_months
                            .entry((month_of(*d), s))
                            .or_default()
                            .entry(a.clone())
                            .or_default() += n;
                    }
                    (
                        keys::analytics_products_day(*d, shard),
                        Update::new().set(EXPIRES_AT, rollup_expiry(*d)),
                    )
                }
                Target::UserDay(u, d) => (
                    keys::analytics_user_day(u, *d),
                    Update::new().set(EXPIRES_AT, rollup_expiry(*d)),
                ),
                Target::Week(w) => (
                    keys::analytics_week(*w),
                    Update::new().set(EXPIRES_AT, rollup_expiry(*w)),
                ),
                Target::Totals => (keys::analytics_totals(), Update::new()),
            };
            for (a, n) in counters {
                update = update.add(a, n);
            }
            updates.push((key, update));
        }
        // The moving items bump nothing (they are never cached).
        let mut written: Vec<NaiveDate> = months.keys().copied().collect();
        written.extend(product_months.keys().map(|(m, _)| *m));
        written.sort();
        written.dedup();
        let month_items = months
            .into_iter()
            .map(|(m, c)| (keys::analytics_month(m, shard), m, c))
            .chain(
                product_months
                    .into_iter()
                    .map(|((m, s), c)| (keys::analytics_products_month(m, s), m, c)),
            )
            .chain(
                moving
                    .into_iter()
                    .map(|(m, c)| (keys::analytics_month_moving(m, shard), m, c)),
            );
        for (key, month, counters) in month_items {
            let mut update = Update::new().set(EXPIRES_AT, rollup_expiry(month_end(month)));
            let mut any = false;
            for (a, n) in counters.into_iter().filter(|(_, n)| *n != 0) {
                update = update.add(a, n);
                any = true;
            }
            if any {
                updates.push((key, update));
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        store.update_many(updates).await?;
        // After the month writes have landed (see `month_cache`).
        super::month_cache::bump_written(store, &written).await
    }
}

/// Puts the marker at `key` unless it is there: `true` when this call put it.
async fn first_time(store: &dyn ItemStore, key: Key, expires_at: i64) -> StoreResult<bool> {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert(EXPIRES_AT.into(), expires_at.into());
    match store.put(item, Some(Condition::ItemNotExists)).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The pointer only moves to later days (last day).
    Later,
    /// Only to earlier days (first day).
    Earlier,
}

fn day_attr(item: Option<&Item>, name: &str) -> Option<NaiveDate> {
    item?
        .get(name)?
        .as_str()
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// Moves the day pointer `name` on the item at `key` to `day` if that is later (earlier) than
/// where it is: `Some(previous day)` when it moved (`Some(None)`: it was not set), `None` when
/// it stays. The update is conditioned on the value read, so concurrent moves serialise.
async fn move_pointer(
    store: &dyn ItemStore,
    key: &Key,
    name: &str,
    day: NaiveDate,
    direction: Direction,
    expires_at: Option<i64>,
) -> StoreResult<Option<Option<NaiveDate>>> {
    for _ in 0..POINTER_ATTEMPTS {
        let item = store.get(key).await?;
        let old = day_attr(item.as_ref(), name);
        if let Some(o) = old {
            let stays = match direction {
                Direction::Later => o >= day,
                Direction::Earlier => o <= day,
            };
            if stays {
                return Ok(None);
            }
        }
        let condition = match old {
            Some(o) => Condition::eq(name, ymd(o)),
            None => Condition::AttrNotExists(name.into()),
        };
        let mut update = Update::new().set(name, ymd(day));
        if let Some(at) = expires_at {
            update = update.set(EXPIRES_AT, at);
        }
        match store.update(key, update, Some(condition)).await {
            Ok(_) => return Ok(Some(old)),
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// Where a pointer moved: `-1` on `counter` of the old day's item, `+1` on the new one's.
fn count_move(
    adds: &mut Adds,
    moved: Option<Option<NaiveDate>>,
    day: NaiveDate,
    target: impl Fn(NaiveDate) -> Target,
    counter: &str,
) {
    if let Some(old) = moved {
        if let Some(o) = old {
            adds.add(target(o), counter, -1);
        }
        adds.add(target(day), counter, 1);
    }
}

pub(super) async fn set_signup_day(
    store: &dyn ItemStore,
    user_id: &str,
    day: NaiveDate,
) -> StoreResult<()> {
    store
        .update(
            &keys::analytics_user_state(user_id),
            Update::new().set(ATTR_SIGNUP_DAY, ymd(day)),
            None,
        )
        .await
        .map(drop)
}

/// The user's sign-up day: from the state item, or the account (then kept on the state item);
/// `None` for an unknown user.
async fn signup_day(
    store: &dyn ItemStore,
    user_id: &str,
    state: Option<&Item>,
) -> StoreResult<Option<NaiveDate>> {
    if let Some(d) = day_attr(state, ATTR_SIGNUP_DAY) {
        return Ok(Some(d));
    }
    let Some(user) = users::get(store, user_id).await? else {
        return Ok(None);
    };
    let Some(day) = day_of(&user.created_at) else {
        return Ok(None);
    };
    set_signup_day(store, user_id, day).await?;
    Ok(Some(day))
}

/// The raw record of a login day (read by the rebuild).
pub(super) async fn put_login_day(
    store: &dyn ItemStore,
    user_id: &str,
    day: NaiveDate,
) -> StoreResult<()> {
    let key = keys::login_day(user_id, day);
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert(EXPIRES_AT.into(), rollup_expiry(day).into());
    store.put(item, None).await
}

/// The user was active on `day`: the day's distinct active users, the last and first active
/// day pointers, and the user's cohort activity of the week.
pub(super) async fn activity(
    store: &dyn ItemStore,
    adds: &mut Adds,
    user_id: &str,
    day: NaiveDate,
) -> StoreResult<()> {
    if !first_time(
        store,
        keys::analytics_user_mark(user_id, day, "active"),
        marker_expiry(day),
    )
    .await?
    {
        return Ok(());
    }
    adds.add(Target::Day(day), attr::ACTIVE, 1);
    let state = keys::analytics_user_state(user_id);
    let moved = move_pointer(store, &state, ATTR_LAST_ACTIVE, day, Direction::Later, None).await?;
    count_move(adds, moved, day, Target::Day, attr::ACTIVE_LAST);
    if let Some(old) = move_pointer(
        store,
        &state,
        ATTR_FIRST_ACTIVE,
        day,
        Direction::Earlier,
        None,
    )
    .await?
    {
        match old {
            Some(o) => adds.add(Target::Day(o), attr::FIRST_ACTIVE, -1),
            None => adds.add(Target::Totals, attr::EVER_ACTIVE, 1),
        }
        adds.add(Target::Day(day), attr::FIRST_ACTIVE, 1);
    }
    let monday = week_of(day);
    let week_end = monday + chrono::Duration::days(6);
    if first_time(
        store,
        keys::analytics_user_week_mark(user_id, monday),
        marker_expiry(week_end),
    )
    .await?
    {
        let item = store.get(&state).await?;
        if let Some(signup) = signup_day(store, user_id, item.as_ref()).await? {
            let cohort = week_of(signup);
            if cohort <= monday {
                adds.add(Target::Week(monday), attr::cohort_active(&ymd(cohort)), 1);
            }
        }
    }
    Ok(())
}

/// The user did funnel `step` on `day`: the day's distinct users of the step and the step's
/// last-day pointer.
pub(super) async fn funnel_step(
    store: &dyn ItemStore,
    adds: &mut Adds,
    user_id: &str,
    day: NaiveDate,
    step: &str,
) -> StoreResult<()> {
    if !first_time(
        store,
        keys::analytics_user_mark(user_id, day, step),
        marker_expiry(day),
    )
    .await?
    {
        return Ok(());
    }
    adds.add(Target::Day(day), attr::funnel(step), 1);
    let moved = move_pointer(
        store,
        &keys::analytics_user_state(user_id),
        &format!("last_{step}"),
        day,
        Direction::Later,
        None,
    )
    .await?;
    count_move(adds, moved, day, Target::Day, &attr::funnel_last(step));
    Ok(())
}

/// The user's first order ever: counted as activated on their sign-up day.
pub(super) async fn activation(
    store: &dyn ItemStore,
    adds: &mut Adds,
    user_id: &str,
) -> StoreResult<()> {
    let state = match store
        .update(
            &keys::analytics_user_state(user_id),
            Update::new().set(ATTR_ACTIVATED, true),
            Some(Condition::AttrNotExists(ATTR_ACTIVATED.into())),
        )
        .await
    {
        Ok(item) => item,
        Err(StoreError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(signup) = signup_day(store, user_id, Some(&state)).await? {
        adds.add(Target::Day(signup), attr::ACTIVATED, 1);
    }
    Ok(())
}

/// Keeps the latest order time of the user's day (a conditional set: concurrent orders of one
/// user keep the latest).
pub(super) async fn last_order_at(
    store: &dyn ItemStore,
    user_id: &str,
    day: NaiveDate,
    at: &str,
) -> StoreResult<()> {
    let condition = Condition::Or(vec![
        Condition::AttrNotExists(attr::LAST_ORDER_AT.into()),
        Condition::cmp(attr::LAST_ORDER_AT, crate::store::Cmp::Lt, at),
    ]);
    match store
        .update(
            &keys::analytics_user_day(user_id, day),
            Update::new()
                .set(attr::LAST_ORDER_AT, at)
                .set(EXPIRES_AT, rollup_expiry(day)),
            Some(condition),
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) async fn search(
    store: &dyn ItemStore,
    adds: &mut Adds,
    log: &SearchLog,
) -> StoreResult<()> {
    let day = day_of(&log.created_at).unwrap_or_else(|| Utc::now().date_naive());
    let d = Target::Day(day);
    adds.add(d.clone(), attr::SEARCHES, 1);
    adds.add(
        d.clone(),
        attr::SEARCH_MS,
        i64::try_from(log.latency_ms).unwrap_or(i64::MAX / 1024),
    );
    if log.result_count == 0 {
        adds.add(d.clone(), attr::SEARCH_ZERO, 1);
    }
    let query = normalise_query(&log.query);
    if let Some(q) = &query {
        if first_time(
            store,
            keys::analytics_query_mark(q, day),
            marker_expiry(day),
        )
        .await?
        {
            adds.add(d.clone(), attr::UNIQUE_QUERIES, 1);
        }
        let moved = move_pointer(
            store,
            &keys::analytics_query(q),
            ATTR_LAST_DAY,
            day,
            Direction::Later,
            Some(rollup_expiry(day)),
        )
        .await?;
        count_move(adds, moved, day, Target::Day, attr::UNIQUE_QUERIES_LAST);
    }
    if let Some(user) = log.user_id.as_deref() {
        adds.add(Target::UserDay(user.to_string(), day), attr::SEARCHES, 1);
        if let Some(q) = &query {
            let owner = user.to_string();
            let moved = move_pointer(
                store,
                &keys::analytics_user_query(user, q),
                ATTR_LAST_DAY,
                day,
                Direction::Later,
                Some(rollup_expiry(day)),
            )
            .await?;
            count_move(
                adds,
                moved,
                day,
                move |d| Target::UserDay(owner.clone(), d),
                attr::UNIQUE_QUERIES_LAST,
            );
        }
        activity(store, adds, user, day).await?;
    }
    Ok(())
}

/// The first click on a result of the search counts it as a search with clicks (on the
/// search's day).
pub(super) async fn search_click(
    store: &dyn ItemStore,
    adds: &mut Adds,
    search_id: &str,
) -> StoreResult<()> {
    let Some(log) = store.get(&keys::search_log(search_id)).await? else {
        return Ok(());
    };
    if !first_time(
        store,
        keys::analytics_search_clicked(search_id),
        Utc::now().timestamp() + SEARCH_LOG_TTL_SECONDS,
    )
    .await?
    {
        return Ok(());
    }
    let Some(day) = log
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(day_of)
    else {
        return Ok(());
    };
    adds.add(Target::Day(day), attr::SEARCH_CLICKED, 1);
    if let Some(user) = log.get("user_id").and_then(Value::as_str) {
        adds.add(
            Target::UserDay(user.to_string(), day),
            attr::SEARCHES_WITH_CLICKS,
            1,
        );
    }
    Ok(())
}
