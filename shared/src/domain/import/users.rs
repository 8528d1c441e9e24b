//! Importing users.
//!
//! Columns: `email` (required, unique case-insensitively in the file and the store), `first_name`,
//! `last_name` (required, 1-100 characters), `id` (optional: the source system's user id, kept so
//! that interactions and orders can name it; a new UUID otherwise), `username` (optional, unique
//! like email), **exactly one of** `password` (8-128 characters, hashed here with argon2id, never
//! logged) or `password_hash` (an argon2 PHC string, `$argon2id$...`, stored as is), `phone`,
//! `roles` (`customer`, `manager`, `admin`, several separated by `|`; also `role`; default
//! `customer`; other than `customer` needs `assign_roles`), `is_active` (default true),
//! `created_at` (ISO 8601 or epoch seconds; default now).
//!
//! Each user is written by [`users::create_with_id`] (its email/username markers and counters in
//! one transaction). A row whose `id` is already a user with the same email is skipped (a retried
//! import); an `id` held by another email, an email or username held by another user are row
//! errors.

use std::collections::HashSet;

use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use validator::ValidateEmail;

use super::{
    BATCH, Context, ImportError, ImportKind, ImportReport, Problems, Source, WrittenCounts,
    records::{Fields, stored_time},
    retrying,
};
use crate::{
    auth::{Role, password},
    domain::users::{self, NewUser, UserError},
    error::FieldError,
    store::{ItemStore, StoreError, keys},
};

/// Passwords hashed at once (argon2id takes ~19 MiB and tens of ms each).
const HASH_CONCURRENCY: usize = 4;

enum Secret {
    Password(String),
    Hash(String),
}

struct UserRow {
    row: usize,
    id: Option<String>,
    email: String,
    username: Option<String>,
    secret: Secret,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    roles: Vec<Role>,
    is_active: bool,
    created_at: Option<String>,
}

fn parse(row: usize, rec: &serde_json::Map<String, Value>) -> Result<UserRow, Vec<FieldError>> {
    let mut f = Fields::new(row, rec);
    let id = f.opt_id("id");
    let email = f.text("email", 254);
    if let Some(e) = &email
        && !e.validate_email()
    {
        f.error("email", "Invalid email format");
    }
    let username = f.opt_text("username", 30);
    if let Some(u) = &username
        && let Err(e) = users::validate_username(u)
    {
        f.error(
            "username",
            e.message.map(|m| m.to_string()).unwrap_or_default(),
        );
    }
    let first_name = f.text("first_name", 100);
    let last_name = f.text("last_name", 100);
    let phone = f.opt_text("phone", 30);
    if let Some(p) = &phone
        && users::validate_phone(p).is_err()
    {
        f.error("phone", "Invalid phone number");
    }
    let secret = match (f.has("password"), f.has("password_hash")) {
        (true, true) => {
            f.error("password", "give password or password_hash, not both");
            None
        }
        (true, false) => match rec.get("password").and_then(Value::as_str) {
            Some(p) if (8..=128).contains(&p.chars().count()) => {
                Some(Secret::Password(p.to_string()))
            }
            _ => {
                f.error("password", "Password must be 8-128 characters");
                None
            }
        },
        (false, true) => match f.opt_text("password_hash", 512) {
            Some(h) if h.starts_with("$argon2") => Some(Secret::Hash(h)),
            Some(_) => {
                f.error(
                    "password_hash",
                    "must be an argon2 PHC string ($argon2id$...)",
                );
                None
            }
            None => None,
        },
        (false, false) => {
            f.error("password", "password or password_hash is required");
            None
        }
    };
    let roles_text = f.opt_text("roles", 200).or_else(|| f.opt_text("role", 200));
    let mut roles = Vec::new();
    for name in roles_text
        .as_deref()
        .unwrap_or("customer")
        .split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match Role::parse(name) {
            Some(r) if !roles.contains(&r) => roles.push(r),
            Some(_) => {}
            None => f.error(
                "roles",
                format!("unknown role {name:?} (customer, manager, admin)"),
            ),
        }
    }
    if roles.is_empty() {
        roles.push(Role::Customer);
    }
    let is_active = f.opt_bool("is_active").unwrap_or(true);
    let created_at = f.opt_time("created_at").map(stored_time);
    let value = match (email, first_name, last_name, secret) {
        (Some(email), Some(first_name), Some(last_name), Some(secret)) => Some(UserRow {
            row,
            id,
            email,
            username,
            secret,
            first_name,
            last_name,
            phone,
            roles,
            is_active,
            created_at,
        }),
        _ => None,
    };
    f.finish(value)
}

/// What the store already holds for a batch of rows.
struct Existing {
    /// Lower-cased email -> owner id.
    emails: std::collections::HashMap<String, String>,
    /// Lower-cased username -> owner id.
    usernames: std::collections::HashMap<String, String>,
    /// User id -> lower-cased email.
    users: std::collections::HashMap<String, String>,
}

async fn existing(store: &dyn ItemStore, rows: &[UserRow]) -> Result<Existing, ImportError> {
    let mut keys_ = Vec::new();
    for r in rows {
        keys_.push(keys::email_marker(&r.email));
        if let Some(u) = &r.username {
            keys_.push(keys::username_marker(u));
        }
        if let Some(id) = &r.id {
            keys_.push(keys::user(id));
        }
    }
    let mut out = Existing {
        emails: Default::default(),
        usernames: Default::default(),
        users: Default::default(),
    };
    let email_pks: HashSet<String> = rows
        .iter()
        .map(|r| keys::email_marker(&r.email).pk)
        .collect();
    for item in store.batch_get(&keys_).await? {
        let pk = item
            .get(crate::store::PK)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Markers sit under `UNIQUE#...`; user items under `USER#<id>`.
        if pk.starts_with("USER#") {
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            let email = item
                .get("email")
                .and_then(Value::as_str)
                .unwrap_or_default();
            out.users.insert(id.to_string(), email.to_lowercase());
        } else if let Some(owner) = item.get("user_id").and_then(Value::as_str) {
            if email_pks.contains(&pk) {
                out.emails.insert(pk, owner.to_string());
            } else {
                out.usernames.insert(pk, owner.to_string());
            }
        }
    }
    Ok(out)
}

/// Checks a batch against the store: the rows to write (`true`) or skip (`false`).
fn against_store(rows: &[UserRow], ex: &Existing, problems: &mut Problems) -> Vec<bool> {
    rows.iter()
        .map(|r| {
            if let Some(id) = &r.id
                && let Some(email) = ex.users.get(id)
            {
                if *email == r.email.to_lowercase() {
                    return false;
                }
                problems.row(
                    r.row,
                    "id",
                    format!("user {id} already exists with another email"),
                );
                return false;
            }
            let mine = |owner: &String| r.id.as_ref() == Some(owner);
            if let Some(owner) = ex.emails.get(&keys::email_marker(&r.email).pk)
                && !mine(owner)
            {
                problems.row(r.row, "email", "email already registered");
            }
            if let Some(u) = &r.username
                && let Some(owner) = ex.usernames.get(&keys::username_marker(u).pk)
                && !mine(owner)
            {
                problems.row(r.row, "username", "username already taken");
            }
            true
        })
        .collect()
}

pub(super) async fn run(
    ctx: &Context<'_>,
    source: &Source<'_>,
) -> Result<ImportReport, ImportError> {
    // Pass 1: validate.
    let mut problems = Problems::default();
    let (mut emails, mut usernames, mut ids) = (HashSet::new(), HashSet::new(), HashSet::new());
    let mut rows = 0usize;
    let mut batch = Vec::with_capacity(BATCH);
    for rec in source.rows()? {
        rows += 1;
        match rec.map(|(row, m)| parse(row, &m)) {
            Err(e) => problems.push(e),
            Ok(Err(es)) => problems.extend(es),
            Ok(Ok(u)) => {
                if !ctx.may_assign_roles && u.roles.iter().any(|r| *r != Role::Customer) {
                    return Err(ImportError::Forbidden(format!(
                        "row {}: roles other than customer need the assign_roles permission",
                        u.row
                    )));
                }
                if !emails.insert(u.email.to_lowercase()) {
                    problems.row(u.row, "email", "duplicate email in this file");
                }
                if let Some(n) = &u.username
                    && !usernames.insert(n.to_lowercase())
                {
                    problems.row(u.row, "username", "duplicate username in this file");
                }
                if let Some(id) = &u.id
                    && !ids.insert(id.clone())
                {
                    problems.row(u.row, "id", "duplicate id in this file");
                }
                batch.push(u);
            }
        }
        if batch.len() >= BATCH {
            let ex = existing(ctx.store, &batch).await?;
            against_store(&batch, &ex, &mut problems);
            batch.clear();
        }
        if problems.full() {
            break;
        }
    }
    if !batch.is_empty() && !problems.full() {
        let ex = existing(ctx.store, &batch).await?;
        against_store(&batch, &ex, &mut problems);
    }
    problems.finish(rows)?;

    // Pass 2: write.
    let mut report = ImportReport {
        kind: ImportKind::Users,
        rows: rows as u64,
        written: WrittenCounts::default(),
        skipped: 0,
    };
    for batch in source.parsed_batches(parse)? {
        write_batch(ctx.store, batch?, &mut report).await?;
    }
    Ok(report)
}

async fn write_batch(
    store: &dyn ItemStore,
    batch: Vec<UserRow>,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let ex = existing(store, &batch).await?;
    let mut problems = Problems::default();
    let write = against_store(&batch, &ex, &mut problems);
    if let Some(e) = problems.list.first() {
        return Err(ImportError::Write(format!(
            "{}: {} (written by someone else since validation)",
            e.field, e.message
        )));
    }
    report.skipped += write.iter().filter(|w| !**w).count() as u64;
    let todo: Vec<UserRow> = batch
        .into_iter()
        .zip(write)
        .filter_map(|(r, w)| w.then_some(r))
        .collect();
    let written = futures::stream::iter(todo.into_iter().map(|r| async move {
        let password_hash = match r.secret {
            Secret::Password(p) => password::hash_password(&p)
                .await
                .map_err(|e| ImportError::Write(e.to_string()))?,
            Secret::Hash(h) => h,
        };
        let id = r.id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let new = NewUser {
            email: r.email,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            phone: r.phone,
            address: None,
            is_active: r.is_active,
            roles: r.roles,
            password_hash,
        };
        retrying(
            || users::create_with_id(store, new.clone(), id.clone(), r.created_at.clone()),
            |e| matches!(e, UserError::Store(StoreError::TransactionConflict)),
        )
        .await
        .map_err(|e| ImportError::Write(format!("row {}: {e}", r.row)))
    }))
    .buffer_unordered(HASH_CONCURRENCY)
    .try_collect::<Vec<_>>()
    .await?;
    report.written.users += written.len() as u64;
    Ok(())
}
