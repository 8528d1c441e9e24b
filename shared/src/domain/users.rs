//! Users: records, uniqueness of email and username, optimistic updates, failed-login window.
//!
//! Invariants, kept by transactions in both store implementations:
//! - every user has an email marker, and a username marker when it has a username; markers are
//!   lower-cased, so uniqueness is case-insensitive; a marker is only written in the same
//!   transaction as the user item that owns it;
//! - every write of a user item is conditioned on the `version` it was read at and increments
//!   it, so concurrent writers never lose each other's changes (the loser retries);
//! - the counters `users`, `users_with_usernames`, `users_with_addresses` change in the same
//!   transaction as the user item that makes them change;
//! - `auth_version` is incremented by every write that changes `roles` or `is_active`, in that
//!   same conditional write, so tokens issued before the change are refused from then on.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use crate::{
    auth::{AccountStatus, Role},
    domain::stats,
    store::{
        self, Condition, GSI1PK, GSI1SK, Item, ItemStore, Key, PK, Query, SK, StoreError, TxOp,
        keys,
    },
};

/// A postal address as the spec shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Validate, Default)]
pub struct Address {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub apartment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    pub landmark: Option<String>,
    /// `home`, `work` or `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(home|work|other)$")]
    #[validate(custom(function = "validate_address_type"))]
    pub address_type: Option<String>,
}

fn validate_address_type(v: &str) -> Result<(), validator::ValidationError> {
    if matches!(v, "home" | "work" | "other") {
        Ok(())
    } else {
        Err(validator::ValidationError::new("address_type")
            .with_message("must be home, work or other".into()))
    }
}

/// Usernames: 3-30 characters, letters, digits, `_`, `.` or `-`, starting with a letter or digit
/// (so a username can never look like an email).
pub fn validate_username(v: &str) -> Result<(), validator::ValidationError> {
    let ok = (3..=30).contains(&v.chars().count())
        && v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("username").with_message(
            "must be 3-30 letters, digits, '_', '.' or '-', starting with a letter or digit".into(),
        ))
    }
}

/// Phone numbers: an optional leading `+`, then 7-15 digits, optionally grouped by spaces, dashes,
/// dots or parentheses.
pub fn validate_phone(v: &str) -> Result<(), validator::ValidationError> {
    let body = v.strip_prefix('+').unwrap_or(v);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    let ok = (7..=15).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("phone").with_message("Invalid phone number".into()))
    }
}

/// Dates of birth: `YYYY-MM-DD`, not in the future, not before 1900.
pub fn validate_date_of_birth(v: &str) -> Result<(), validator::ValidationError> {
    let ok = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok_and(|d| {
        d <= chrono::Utc::now().date_naive()
            && d >= chrono::NaiveDate::MIN
                .max(chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default())
    });
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("date_of_birth")
            .with_message("must be a past date as YYYY-MM-DD".into()))
    }
}

/// Genders: `male`, `female`, `other`, `prefer_not_to_say`.
pub fn validate_gender(v: &str) -> Result<(), validator::ValidationError> {
    if matches!(v, "male" | "female" | "other" | "prefer_not_to_say") {
        Ok(())
    } else {
        Err(validator::ValidationError::new("gender")
            .with_message("must be male, female, other or prefer_not_to_say".into()))
    }
}

/// Shopping preferences (`POST /api/v1/users/preferences`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Validate, Default)]
pub struct Preferences {
    /// `budget`, `mid_range`, `premium` or `luxury`.
    #[serde(default)]
    #[schema(pattern = r"^(budget|mid_range|premium|luxury)$")]
    #[validate(custom(function = "validate_price_range"))]
    pub price_range: Option<String>,
    /// `brand_loyal`, `brand_flexible` or `price_driven`.
    #[serde(default)]
    #[schema(pattern = r"^(brand_loyal|brand_flexible|price_driven)$")]
    #[validate(custom(function = "validate_brand_preference"))]
    pub brand_preference: Option<String>,
    #[serde(default)]
    #[schema(max_items = 50)]
    #[validate(length(max = 50, message = "at most 50 interests"))]
    pub interests: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 50)]
    #[validate(length(max = 50, message = "at most 50 categories"))]
    pub categories: Vec<String>,
    #[serde(default)]
    pub newsletter_subscription: bool,
}

fn validate_price_range(v: &str) -> Result<(), validator::ValidationError> {
    if matches!(v, "budget" | "mid_range" | "premium" | "luxury") {
        Ok(())
    } else {
        Err(validator::ValidationError::new("price_range")
            .with_message("must be budget, mid_range, premium or luxury".into()))
    }
}

fn validate_brand_preference(v: &str) -> Result<(), validator::ValidationError> {
    if matches!(v, "brand_loyal" | "brand_flexible" | "price_driven") {
        Ok(())
    } else {
        Err(validator::ValidationError::new("brand_preference")
            .with_message("must be brand_loyal, brand_flexible or price_driven".into()))
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    pub is_active: bool,
    /// Role names (`customer`, `manager`, `admin`).
    pub roles: Vec<String>,
    pub password_hash: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub login_count: u64,
    #[serde(default)]
    pub last_login: Option<String>,
    /// Optimistic-concurrency version, incremented by every write.
    #[serde(default)]
    pub version: u64,
    /// Incremented by every change of `roles` or `is_active`; carried in access tokens, which are
    /// refused once it moves on.
    #[serde(default)]
    pub auth_version: u64,
}

impl UserRecord {
    /// What authorization needs to know about this account.
    pub fn status(&self) -> AccountStatus {
        AccountStatus {
            active: self.is_active,
            auth_version: self.auth_version,
            roles: self.roles.clone(),
        }
    }
}

/// What a new user is made of (already validated, password already hashed).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub is_active: bool,
    pub roles: Vec<Role>,
    pub password_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("email already registered")]
    EmailTaken,
    #[error("username already taken")]
    UsernameTaken,
    #[error("user not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_RETRIES: usize = 5;

fn user_item(u: &UserRecord) -> Result<Item, StoreError> {
    let mut item = store::to_item(u)?;
    let key = keys::user(&u.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert(GSI1PK.into(), keys::USERS_INDEX_PK.into());
    item.insert(
        GSI1SK.into(),
        keys::users_index_sk(&u.created_at, &u.id).into(),
    );
    item.insert("entity".into(), "user".into());
    Ok(item)
}

fn marker_item(key: &Key, user_id: &str) -> Item {
    let mut item = Item::new();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    item.insert("user_id".into(), user_id.into());
    item
}

/// Creates a user with its uniqueness markers and counters in one transaction.
pub async fn create(store: &dyn ItemStore, new: NewUser) -> Result<UserRecord, UserError> {
    create_with_id(store, new, uuid::Uuid::now_v7().to_string(), None).await
}

/// [`create`] under a given id and creation time (bulk import: ids from the source system).
/// A user item already there under `id` fails the transaction like a taken email would not:
/// the caller checks existence first.
pub async fn create_with_id(
    store: &dyn ItemStore,
    new: NewUser,
    id: String,
    created_at: Option<String>,
) -> Result<UserRecord, UserError> {
    let now = store::now_rfc3339();
    let user = UserRecord {
        id,
        email: new.email.trim().to_string(),
        username: new
            .username
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty()),
        first_name: new.first_name,
        last_name: new.last_name,
        phone: new.phone,
        date_of_birth: None,
        gender: None,
        address: new.address,
        is_active: new.is_active,
        roles: new.roles.iter().map(|r| r.name().to_string()).collect(),
        password_hash: new.password_hash,
        created_at: created_at.unwrap_or_else(|| now.clone()),
        updated_at: now,
        login_count: 0,
        last_login: None,
        version: 1,
        auth_version: 0,
    };
    let mut ops = vec![
        TxOp::Put {
            item: user_item(&user)?,
            condition: Some(Condition::ItemNotExists),
        },
        TxOp::Put {
            item: marker_item(&keys::email_marker(&user.email), &user.id),
            condition: Some(Condition::ItemNotExists),
        },
    ];
    let username_op = user.username.as_ref().map(|u| TxOp::Put {
        item: marker_item(&keys::username_marker(u), &user.id),
        condition: Some(Condition::ItemNotExists),
    });
    let username_index = username_op.as_ref().map(|_| ops.len());
    ops.extend(username_op);
    ops.push(stats::total_add("users", 1));
    ops.push(stats::hourly_add("new_users", 1));
    if user.username.is_some() {
        ops.push(stats::total_add("users_with_usernames", 1));
    }
    if user.address.is_some() {
        ops.push(stats::total_add("users_with_addresses", 1));
    }
    match store.transact(ops).await {
        Ok(()) => Ok(user),
        Err(StoreError::TransactionCanceled { failed }) if failed.contains(&1) => {
            Err(UserError::EmailTaken)
        }
        Err(StoreError::TransactionCanceled { failed })
            if username_index.is_some_and(|i| failed.contains(&i)) =>
        {
            Err(UserError::UsernameTaken)
        }
        Err(e) => Err(e.into()),
    }
}

/// The user with `id`.
pub async fn get(store: &dyn ItemStore, id: &str) -> Result<Option<UserRecord>, StoreError> {
    match store.get(&keys::user(id)).await? {
        Some(item) => Ok(Some(store::from_item(item)?)),
        None => Ok(None),
    }
}

/// The current status of account `id` (`None`: no such account), in one GetItem.
pub async fn account_status(
    store: &dyn ItemStore,
    id: &str,
) -> Result<Option<AccountStatus>, StoreError> {
    Ok(get(store, id).await?.map(|u| u.status()))
}

/// The users with these ids (unknown ids left out), by id, in one batch read.
pub async fn get_many(
    store: &dyn ItemStore,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, UserRecord>, StoreError> {
    let keys: Vec<Key> = ids.iter().map(|id| keys::user(id)).collect();
    let mut out = std::collections::HashMap::with_capacity(keys.len());
    for item in store.batch_get(&keys).await? {
        let user: UserRecord = store::from_item(item)?;
        out.insert(user.id.clone(), user);
    }
    Ok(out)
}

async fn marker_owner(store: &dyn ItemStore, key: &Key) -> Result<Option<String>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|i| i.get("user_id").and_then(Value::as_str).map(str::to_string)))
}

/// The user whose email or username (case-insensitive) is `login`.
pub async fn find_by_login(
    store: &dyn ItemStore,
    login: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let login = login.trim();
    if login.is_empty() {
        return Ok(None);
    }
    let marker = if login.contains('@') {
        keys::email_marker(login)
    } else {
        keys::username_marker(login)
    };
    match marker_owner(store, &marker).await? {
        Some(id) => get(store, &id).await,
        None => Ok(None),
    }
}

/// True when nobody holds `username` (case-insensitive).
pub async fn username_available(store: &dyn ItemStore, username: &str) -> Result<bool, StoreError> {
    Ok(store.get(&keys::username_marker(username)).await?.is_none())
}

/// Applies `change` to the current user and saves it, swapping uniqueness markers and adjusting
/// counters in the same transaction. Retries on a concurrent write. `change` returns `false` to
/// abandon the update (nothing written).
pub async fn update<F>(
    store: &dyn ItemStore,
    id: &str,
    mut change: F,
) -> Result<UserRecord, UserError>
where
    F: FnMut(&mut UserRecord) -> bool + Send,
{
    for _ in 0..MAX_RETRIES {
        let old = get(store, id).await?.ok_or(UserError::NotFound)?;
        let mut new = old.clone();
        if !change(&mut new) {
            return Ok(old);
        }
        new.id = old.id.clone();
        new.created_at = old.created_at.clone();
        new.version = old.version + 1;
        new.auth_version = if new.roles != old.roles || new.is_active != old.is_active {
            old.auth_version + 1
        } else {
            old.auth_version
        };
        new.updated_at = store::now_rfc3339();
        match save(store, &old, &new).await {
            Ok(()) => {
                if (&old.date_of_birth, &old.gender, &old.address)
                    != (&new.date_of_birth, &new.gender, &new.address)
                {
                    crate::domain::segments::hooks::on_profile(store, id, Some(&new), None).await;
                }
                return Ok(new);
            }
            Err(SaveError::Stale) => continue,
            Err(SaveError::User(e)) => return Err(e),
        }
    }
    Err(UserError::Store(StoreError::TransactionConflict))
}

enum SaveError {
    Stale,
    User(UserError),
}

async fn save(store: &dyn ItemStore, old: &UserRecord, new: &UserRecord) -> Result<(), SaveError> {
    let mut ops = vec![TxOp::Put {
        item: user_item(new).map_err(|e| SaveError::User(e.into()))?,
        condition: Some(Condition::And(vec![
            Condition::ItemExists,
            Condition::eq("version", old.version),
        ])),
    }];
    let mut email_index = None;
    if !old.email.eq_ignore_ascii_case(&new.email) {
        email_index = Some(ops.len());
        ops.push(TxOp::Put {
            item: marker_item(&keys::email_marker(&new.email), &new.id),
            condition: Some(Condition::ItemNotExists),
        });
        ops.push(TxOp::Delete {
            key: keys::email_marker(&old.email),
            condition: Some(Condition::eq("user_id", old.id.as_str())),
        });
    }
    let lower = |u: &Option<String>| u.as_ref().map(|s| s.to_lowercase());
    let mut username_index = None;
    if lower(&old.username) != lower(&new.username) {
        if let Some(u) = &new.username {
            username_index = Some(ops.len());
            ops.push(TxOp::Put {
                item: marker_item(&keys::username_marker(u), &new.id),
                condition: Some(Condition::ItemNotExists),
            });
        }
        if let Some(u) = &old.username {
            ops.push(TxOp::Delete {
                key: keys::username_marker(u),
                condition: Some(Condition::eq("user_id", old.id.as_str())),
            });
        }
    }
    match (old.username.is_some(), new.username.is_some()) {
        (false, true) => ops.push(stats::total_add("users_with_usernames", 1)),
        (true, false) => ops.push(stats::total_add("users_with_usernames", -1)),
        _ => {}
    }
    match (old.address.is_some(), new.address.is_some()) {
        (false, true) => ops.push(stats::total_add("users_with_addresses", 1)),
        (true, false) => ops.push(stats::total_add("users_with_addresses", -1)),
        _ => {}
    }
    match store.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionCanceled { failed }) => {
            if email_index.is_some_and(|i| failed.contains(&i)) {
                Err(SaveError::User(UserError::EmailTaken))
            } else if username_index.is_some_and(|i| failed.contains(&i)) {
                Err(SaveError::User(UserError::UsernameTaken))
            } else {
                Err(SaveError::Stale)
            }
        }
        Err(StoreError::TransactionConflict) => Err(SaveError::Stale),
        Err(e) => Err(SaveError::User(e.into())),
    }
}

/// Records a successful login (count and time).
pub async fn record_login(store: &dyn ItemStore, id: &str) -> Result<UserRecord, UserError> {
    let at = store::now_rfc3339();
    update(store, id, |u| {
        u.login_count += 1;
        u.last_login = Some(at.clone());
        true
    })
    .await
}

/// One page of users, newest first, optionally filtered by a case-insensitive substring of name,
/// email or username. Returns the page and the total number of matching users.
///
/// Reads the `USERS` partition of GSI1 (never a table scan); with a search term every user in the
/// partition is read, which is fine for admin use at the scale of this product's demo and small
/// shops, and is the place to add a search index when it is not.
pub async fn list(
    store: &dyn ItemStore,
    search: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<(Vec<UserRecord>, u64), StoreError> {
    let needle = search
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    let query = Query::gsi1(keys::USERS_INDEX_PK).reverse();
    let mut matched = Vec::new();
    let mut total = 0u64;
    let mut cursor = None;
    loop {
        let page = store.query(query.clone().limit(200).cursor(cursor)).await?;
        for item in page.items {
            let user: UserRecord = store::from_item(item)?;
            let hit = needle.as_ref().is_none_or(|n| {
                [
                    Some(&user.first_name),
                    Some(&user.last_name),
                    Some(&user.email),
                    user.username.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|f| f.to_lowercase().contains(n.as_str()))
                    || format!("{} {}", user.first_name, user.last_name)
                        .to_lowercase()
                        .contains(n.as_str())
            });
            if hit {
                if total as usize >= offset && matched.len() < limit {
                    matched.push(user);
                }
                total += 1;
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok((matched, total))
}

/// Creates the admin account, or makes the existing account with that email an active admin with
/// the given password. Used by local demo mode and by the cloud bootstrap command.
pub async fn ensure_admin(
    store: &dyn ItemStore,
    email: &str,
    username: &str,
    password_hash: String,
) -> Result<UserRecord, UserError> {
    if let Some(existing) = find_by_login(store, email).await? {
        return update(store, &existing.id, |u| {
            if !u.roles.iter().any(|r| r == Role::Admin.name()) {
                u.roles.push(Role::Admin.name().to_string());
            }
            u.is_active = true;
            u.password_hash = password_hash.clone();
            true
        })
        .await;
    }
    create(
        store,
        NewUser {
            email: email.to_string(),
            username: Some(username.to_string()),
            first_name: "Admin".into(),
            last_name: "User".into(),
            phone: None,
            address: None,
            is_active: true,
            roles: vec![Role::Admin],
            password_hash,
        },
    )
    .await
}

/// Preferences of a user (defaults when never set).
pub async fn get_preferences(
    store: &dyn ItemStore,
    user_id: &str,
) -> Result<Preferences, StoreError> {
    match store.get(&keys::user_preferences(user_id)).await? {
        Some(item) => store::from_item(item),
        None => Ok(Preferences::default()),
    }
}

/// Replaces the preferences of an existing user.
pub async fn set_preferences(
    store: &dyn ItemStore,
    user_id: &str,
    prefs: &Preferences,
) -> Result<(), UserError> {
    let mut item = store::to_item(prefs)?;
    let key = keys::user_preferences(user_id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("updated_at".into(), store::now_rfc3339().into());
    store
        .transact(vec![
            TxOp::Check {
                key: keys::user(user_id),
                condition: Condition::ItemExists,
            },
            TxOp::Put {
                item,
                condition: None,
            },
        ])
        .await
        .map_err(|e| match e {
            StoreError::TransactionCanceled { .. } => UserError::NotFound,
            e => e.into(),
        })?;
    crate::domain::segments::hooks::on_profile(store, user_id, None, Some(prefs)).await;
    Ok(())
}

impl From<UserError> for crate::ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::EmailTaken => Self::conflict(
                crate::error::ErrorCode::EmailTaken,
                "Email already registered",
            ),
            UserError::UsernameTaken => Self::conflict(
                crate::error::ErrorCode::UsernameTaken,
                "Username already taken",
            ),
            UserError::NotFound => {
                Self::not_found("User not found").with_code(crate::error::ErrorCode::UserNotFound)
            }
            UserError::Store(e) => e.into(),
        }
    }
}
