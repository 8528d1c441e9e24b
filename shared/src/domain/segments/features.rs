//! Per-user features kept on write, so segment membership is computed without scanning orders
//! or events (keys: `USERFEAT#<shard>` in [`keys`]):
//! - `<user>#RFM`: `order_count` and `monetary_cents` by atomic `ADD` at each order (a cancel
//!   adds -1 and minus the total), `last_order_at` (latest order time, a conditional set so an
//!   imported older order does not move it back) and `first_order_at`;
//! - `<user>#PROFILE`: date of birth, gender, country, region, interests and categories, put
//!   when the profile or the preferences are written;
//! - `<user>#EV#<day>`: event counts of one day by interaction kind and device type
//!   (`<kind>:<device>`, `ADD`), kept 400 days: behavioral criteria sum the days of their window.
//!
//! The device comes from the request's User-Agent ([`device_of`]): the HTTP stack runs every
//! request inside [`device_scope`], and [`record_signals`] (called by the interaction log) reads
//! it, so no handler has to pass it along. Outside a request (imports, jobs) it is `desktop`.
//!
//! All items of a user sit in one partition under the prefix `<user>#`: one query reads them
//! ([`load_user`]); the refresh job pages through the 16 shards ([`load_all`]).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::domain::interactions::{Actor, Signal};
use crate::store::{
    Condition, EXPIRES_AT, Item, ItemStore, PK, Query, SK, StoreError, StoreResult, Update, keys,
};

/// How long daily event items are kept (windows go up to 365 days).
pub const EVENT_DAYS_RETENTION_SECS: i64 = 400 * 86_400;

/// Event counts of one day: (interaction kind, device, count).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayEvents {
    pub day: NaiveDate,
    pub counts: Vec<(String, String, i64)>,
}

/// Profile facts used by demographic and interest criteria.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProfileFacts {
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub interests: Vec<String>,
    pub categories: Vec<String>,
}

/// Everything membership is computed from, for one user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserFeatures {
    pub user_id: String,
    pub order_count: i64,
    pub monetary_cents: i64,
    /// Epoch seconds.
    pub last_order_at: Option<i64>,
    pub days: Vec<DayEvents>,
    pub profile: ProfileFacts,
}

// ---- device type ----

tokio::task_local! {
    static DEVICE: &'static str;
}

/// The device type of a User-Agent: `tablet` (iPad, Android without "Mobile", "Tablet"),
/// `mobile` (iPhone, Android Mobile, "Mobile"), else `desktop`.
pub fn device_of(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    if ua.contains("ipad")
        || ua.contains("tablet")
        || (ua.contains("android") && !ua.contains("mobile"))
    {
        "tablet"
    } else if ua.contains("mobile") || ua.contains("iphone") || ua.contains("ipod") {
        "mobile"
    } else {
        "desktop"
    }
}

/// The device of the request being served (`desktop` outside a request).
pub fn current_device() -> &'static str {
    DEVICE.try_with(|d| *d).unwrap_or("desktop")
}

/// Middleware: runs the request with its device type in scope (see [`current_device`]).
pub async fn device_scope(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let device = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(device_of)
        .unwrap_or("desktop");
    DEVICE.scope(device, next.run(req)).await
}

/// Runs `f` as if in a request from `device` (tests, demo seeding).
pub async fn with_device<F: std::future::Future>(device: &'static str, f: F) -> F::Output {
    DEVICE.scope(device, f).await
}

// ---- writes ----

/// Adds the users' signals to their daily event counts (guests are skipped): one `ADD` per
/// (user, day), all at once. Called by the interaction log with what it records.
pub async fn record_signals(store: &dyn ItemStore, signals: &[Signal]) -> StoreResult<()> {
    let device = current_device();
    type Counts = std::collections::BTreeMap<String, i64>;
    let mut per_day: HashMap<(String, NaiveDate), (Counts, i64)> = HashMap::new();
    for s in signals.iter().filter(|s| s.count != 0) {
        let Actor::User(user) = &s.actor else {
            continue;
        };
        let (counts, latest) = per_day
            .entry((user.clone(), s.at.date_naive()))
            .or_insert_with(|| (Counts::new(), s.at.timestamp()));
        *counts
            .entry(format!("{}:{device}", s.kind.name()))
            .or_default() += s.count;
        *latest = (*latest).max(s.at.timestamp());
    }
    let writes = per_day
        .into_iter()
        .map(|((user, day), (counts, latest))| async move {
            let mut update = Update::new().set(EXPIRES_AT, latest + EVENT_DAYS_RETENTION_SECS);
            for (attr, n) in counts {
                update = update.add(attr, n);
            }
            store
                .update(&keys::user_day_events(&user, day), update, None)
                .await
        });
    futures::future::try_join_all(writes).await?;
    Ok(())
}

/// Moves a user's order figures: `sign` 1 for a placed (or imported) order, -1 for a cancelled
/// one; `total_cents` the order total, `at` its time.
pub async fn record_order(
    store: &dyn ItemStore,
    user_id: &str,
    total_cents: i64,
    at: DateTime<Utc>,
    sign: i64,
) -> StoreResult<()> {
    let key = keys::user_rfm(user_id);
    store
        .update(
            &key,
            Update::new()
                .add("order_count", sign)
                .add("monetary_cents", sign.saturating_mul(total_cents))
                .set("user_id", user_id),
            None,
        )
        .await?;
    if sign > 0 {
        let t = at.timestamp();
        let later = Condition::Or(vec![
            Condition::AttrNotExists("last_order_at".into()),
            Condition::cmp("last_order_at", crate::store::Cmp::Lt, t),
        ]);
        match store
            .update(&key, Update::new().set("last_order_at", t), Some(later))
            .await
        {
            Ok(_) | Err(StoreError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Puts a user's profile facts (profile or preferences written; `None` leaves that part).
pub async fn record_profile(
    store: &dyn ItemStore,
    user_id: &str,
    user: Option<&crate::domain::users::UserRecord>,
    prefs: Option<&crate::domain::users::Preferences>,
) -> StoreResult<()> {
    let mut update = Update::new().set("user_id", user_id);
    if let Some(u) = user {
        let opt = |v: &Option<String>| v.clone().map(Value::from).unwrap_or(Value::Null);
        let country = u.address.as_ref().map(|a| a.country.clone());
        let region = u.address.as_ref().map(|a| a.state.clone());
        update = update
            .set("date_of_birth", opt(&u.date_of_birth))
            .set("gender", opt(&u.gender))
            .set("country", opt(&country))
            .set("region", opt(&region));
    }
    if let Some(p) = prefs {
        update = update
            .set("interests", p.interests.clone())
            .set("categories", p.categories.clone());
    }
    store
        .update(&keys::user_profile_facts(user_id), update, None)
        .await?;
    Ok(())
}

// ---- reads ----

fn str_attr(item: &Item, name: &str) -> Option<String> {
    item.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn list_attr(item: &Item, name: &str) -> Vec<String> {
    item.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Folds one feature item into `f` (items of other shapes are ignored).
fn fold(f: &mut UserFeatures, suffix: &str, item: &Item) {
    match suffix {
        "RFM" => {
            f.order_count = item.get("order_count").and_then(Value::as_i64).unwrap_or(0);
            f.monetary_cents = item
                .get("monetary_cents")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            f.last_order_at = item.get("last_order_at").and_then(Value::as_i64);
        }
        "PROFILE" => {
            f.profile = ProfileFacts {
                date_of_birth: str_attr(item, "date_of_birth")
                    .and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
                gender: str_attr(item, "gender"),
                country: str_attr(item, "country"),
                region: str_attr(item, "region"),
                interests: list_attr(item, "interests"),
                categories: list_attr(item, "categories"),
            }
        }
        s => {
            if let Some(day) = s
                .strip_prefix("EV#")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            {
                let counts = item
                    .iter()
                    .filter_map(|(k, v)| {
                        let (kind, device) = k.split_once(':')?;
                        Some((kind.to_string(), device.to_string(), v.as_i64()?))
                    })
                    .collect();
                f.days.push(DayEvents { day, counts });
            }
        }
    }
}

/// Splits a feature item's sort key into (user id, suffix).
fn split_sk(item: &Item) -> Option<(&str, &str)> {
    let sk = item.get(SK)?.as_str()?;
    // User ids never contain '#'; the suffix may (EV#<day>).
    sk.split_once('#')
}

/// The features of one user (one query of their partition prefix).
pub async fn load_user(store: &dyn ItemStore, user_id: &str) -> StoreResult<UserFeatures> {
    let items = crate::store::query_all(
        store,
        Query::table(keys::user_feature_pk(user_id))
            .begins_with(keys::user_feature_prefix(user_id)),
    )
    .await?;
    let mut f = UserFeatures {
        user_id: user_id.to_string(),
        ..Default::default()
    };
    for item in &items {
        if let Some((_, suffix)) = split_sk(item) {
            fold(&mut f, suffix, item);
        }
    }
    Ok(f)
}

/// Page size of the bulk feature read.
const PAGE: u32 = 1000;

/// The features of every user with any (the refresh job and RFM generation): the 16 shard
/// partitions read concurrently, page by page. Items of one user are consecutive in a shard.
pub async fn load_all(store: &dyn ItemStore) -> StoreResult<Vec<UserFeatures>> {
    let shards = (0..keys::USER_FEATURE_SHARDS).map(|shard| async move {
        let mut out: Vec<UserFeatures> = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .query(
                    Query::table(keys::user_feature_shard_pk(shard))
                        .limit(PAGE)
                        .cursor(cursor),
                )
                .await?;
            for item in &page.items {
                let Some((user, suffix)) = split_sk(item) else {
                    continue;
                };
                if out.last().is_none_or(|f| f.user_id != user) {
                    out.push(UserFeatures {
                        user_id: user.to_string(),
                        ..Default::default()
                    });
                }
                if let Some(f) = out.last_mut() {
                    fold(f, suffix, item);
                }
            }
            match page.cursor {
                Some(c) => cursor = Some(c),
                None => return Ok::<_, StoreError>(out),
            }
        }
    });
    let parts = futures::future::try_join_all(shards).await?;
    Ok(parts.into_iter().flatten().collect())
}

/// The key attributes of a feature item (for tests and imports that write items directly).
pub fn item_key(item: &Item) -> Option<(&str, &str)> {
    Some((item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::interactions::InteractionKind;
    use crate::store::local::LocalStore;

    #[test]
    fn devices_from_user_agents() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
        let pixel = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36";
        let tab =
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36";
        let ipad = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)";
        let linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";
        assert_eq!(device_of(iphone), "mobile");
        assert_eq!(device_of(pixel), "mobile");
        assert_eq!(device_of(tab), "tablet");
        assert_eq!(device_of(ipad), "tablet");
        assert_eq!(device_of(linux), "desktop");
    }

    #[tokio::test]
    async fn orders_cancels_and_events_fold_into_features() {
        let store = LocalStore::in_memory().unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let t1 = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .to_utc();
        record_order(&store, "u1", 10_000, t1, 1).await.unwrap();
        record_order(&store, "u1", 2_500, t0, 1).await.unwrap();
        record_order(&store, "u1", 2_500, t0, -1).await.unwrap();
        let signals = vec![
            Signal::new(Actor::User("u1".into()), "p1", InteractionKind::View).at(t0),
            Signal::new(Actor::User("u1".into()), "p2", InteractionKind::View).at(t0),
            Signal::new(Actor::Guest("c".into()), "p2", InteractionKind::View).at(t0),
        ];
        with_device("mobile", record_signals(&store, &signals))
            .await
            .unwrap();
        record_signals(&store, &signals[..1]).await.unwrap();
        let f = load_user(&store, "u1").await.unwrap();
        assert_eq!((f.order_count, f.monetary_cents), (1, 10_000));
        assert_eq!(
            f.last_order_at,
            Some(t1.timestamp()),
            "the older order did not move it back"
        );
        assert_eq!(f.days.len(), 1);
        let mut counts = f.days[0].counts.clone();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                ("view".to_string(), "desktop".to_string(), 1),
                ("view".to_string(), "mobile".to_string(), 2)
            ]
        );
        let all = load_all(&store).await.unwrap();
        assert_eq!(all.len(), 1, "guests have no features");
        assert_eq!(all[0], f);
    }
}
