//! The DynamoDB-shaped item store.
//!
//! One trait, [`ItemStore`], with two implementations that share one contract test suite:
//! [`dynamo::DynamoStore`] (aws-sdk-dynamodb on the single table) and [`local::LocalStore`]
//! (embedded redb file, or in memory). Items are JSON objects ([`Item`]); every item carries its
//! key attributes `PK` and `SK`, optionally `GSI1PK`/`GSI1SK` and `GSI2PK`/`GSI2SK` (an item is in
//! an index only when it has both of that index's attributes, as in DynamoDB) and optionally
//! `expires_at` (epoch seconds).
//!
//! Semantics both implementations keep:
//! - An item whose `expires_at` is at or before now is absent: to `get`, `batch_get`, `query`,
//!   `scan`, and to conditions (`ItemNotExists` holds for it, `ItemExists` fails). In DynamoDB
//!   TTL deletion is lazy, so the dynamo implementation filters on read and folds the expiry into
//!   its condition expressions.
//! - Conditions are evaluated atomically with the write they guard.
//! - `transact` is all-or-nothing: if any condition fails nothing is written and the error names
//!   the failing operations by index.
//! - `update` with `add` is an atomic counter (DynamoDB `ADD`); a missing attribute counts as 0,
//!   and a missing item is created with the key and the update applied.
//! - Queries return items in sort-key order (`forward`) or reverse; `limit` caps a page; the
//!   returned cursor is opaque and resumes exactly after the last returned item.
//! - A query or scan without a limit returns one page of about 1 MB of item data, as DynamoDB
//!   does, with a cursor when more may follow: a reader that wants everything follows the cursor
//!   ([`query_all`]). With a limit, a page holds up to that many items whatever their size.

pub mod keys;

pub mod dynamo;
pub mod local;

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use thiserror::Error;

/// A stored item: a JSON object with at least `PK` and `SK` string attributes.
pub type Item = Map<String, Value>;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const EXPIRES_AT: &str = "expires_at";

/// Primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of an item, if it has string `PK` and `SK`.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }
}

/// Which key space a query or scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    Table,
    Gsi1,
    Gsi2,
}

impl Index {
    /// The (partition, sort) attribute names of this key space.
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self {
            Index::Table => (PK, SK),
            Index::Gsi1 => (GSI1PK, GSI1SK),
            Index::Gsi2 => (GSI2PK, GSI2SK),
        }
    }
}

/// Comparison operator of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition on the current item, evaluated atomically with the write it guards.
///
/// Comparisons follow DynamoDB: numbers compare numerically, strings by bytes; comparing values of
/// different types, or an attribute that is missing, is false (also for `Ne`).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists (and has not expired).
    ItemExists,
    /// The item does not exist (or has expired).
    ItemNotExists,
    /// The attribute is present on the item.
    AttrExists(String),
    /// The attribute is absent from the item (or the item is absent).
    AttrNotExists(String),
    /// `attr <op> value`.
    Compare { attr: String, op: Cmp, value: Value },
    /// All conditions hold.
    And(Vec<Condition>),
    /// At least one condition holds.
    Or(Vec<Condition>),
}

impl Condition {
    pub fn eq(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Compare {
            attr: attr.into(),
            op: Cmp::Eq,
            value: value.into(),
        }
    }
    pub fn ge(attr: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Compare {
            attr: attr.into(),
            op: Cmp::Ge,
            value: value.into(),
        }
    }
    pub fn cmp(attr: impl Into<String>, op: Cmp, value: impl Into<Value>) -> Self {
        Self::Compare {
            attr: attr.into(),
            op,
            value: value.into(),
        }
    }
}

/// An update expression: `SET`, `ADD` (numbers) and `REMOVE`, applied in that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    /// Atomic numeric adds; a missing attribute counts as 0. Integers stay integers.
    pub add: Vec<(String, serde_json::Number)>,
    pub remove: Vec<String>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set(mut self, attr: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((attr.into(), value.into()));
        self
    }
    pub fn add(mut self, attr: impl Into<String>, n: impl Into<serde_json::Number>) -> Self {
        self.add.push((attr.into(), n.into()));
        self
    }
    pub fn remove(mut self, attr: impl Into<String>) -> Self {
        self.remove.push(attr.into());
        self
    }
}

/// Sort-key condition of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

/// A query on the table or an index by partition key.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: Option<SortKey>,
    /// Page size in items; `None` ends the page after about 1 MB of item data (DynamoDB's page),
    /// with a cursor when more may follow.
    pub limit: Option<u32>,
    /// Opaque cursor returned by a previous page of the same query.
    pub cursor: Option<String>,
    /// Ascending sort-key order when true.
    pub forward: bool,
    /// Only these attributes of each item (plus its table and index keys and `expires_at`);
    /// `None` returns whole items. For bulk reads that need a few attributes of many items.
    pub projection: Option<Vec<String>>,
}

impl Query {
    pub fn table(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Table,
            pk: pk.into(),
            sk: None,
            limit: None,
            cursor: None,
            forward: true,
            projection: None,
        }
    }
    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            ..Self::table(pk)
        }
    }
    pub fn gsi2(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi2,
            ..Self::table(pk)
        }
    }
    pub fn sk(mut self, sk: SortKey) -> Self {
        self.sk = Some(sk);
        self
    }
    pub fn begins_with(self, prefix: impl Into<String>) -> Self {
        self.sk(SortKey::BeginsWith(prefix.into()))
    }
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }
    pub fn cursor(mut self, c: Option<String>) -> Self {
        self.cursor = c;
        self
    }
    pub fn reverse(mut self) -> Self {
        self.forward = false;
        self
    }
    /// Returns only `attrs` of each item (keys and `expires_at` always come along).
    pub fn project(mut self, attrs: &[&str]) -> Self {
        self.projection = Some(attrs.iter().map(|a| a.to_string()).collect());
        self
    }
    /// The attributes a projected read returns: the requested ones, every key attribute (table
    /// and indexes, so cursors can be made) and the expiry time (so expired items are skipped).
    pub fn projected_attrs(&self) -> Option<Vec<&str>> {
        let wanted = self.projection.as_ref()?;
        let mut attrs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        for a in [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, EXPIRES_AT] {
            if !attrs.contains(&a) {
                attrs.push(a);
            }
        }
        Some(attrs)
    }
}

/// One page of a query or scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub cursor: Option<String>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// A condition on an item that the transaction does not write.
    Check { key: Key, condition: Condition },
}

/// A segmented scan request (batch jobs only, never on a request path).
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub segment: u32,
    pub total_segments: u32,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Error)]
pub enum StoreError {
    /// The condition of a single-item write did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled because the conditions of these operations (by index) failed.
    #[error("transaction cancelled; failed conditions at {failed:?}")]
    TransactionCanceled { failed: Vec<usize> },
    /// A concurrent transaction touched the same items; retrying may succeed.
    #[error("transaction conflict")]
    TransactionConflict,
    /// The backend throttled the request after retries.
    #[error("throttled")]
    Throttled,
    /// The request was invalid (bad key, item too large, too many operations, bad cursor).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Anything else from the backend.
    #[error("store backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The store. Object-safe: functions hold it as `Arc<dyn ItemStore>`.
#[async_trait]
pub trait ItemStore: Send + Sync + 'static {
    /// The item at `key`, if present and not expired.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;

    /// Writes the whole item (replacing any previous one) if `condition` holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()>;

    /// Deletes the item if `condition` holds; returns the deleted item, if there was one.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>>;

    /// Applies `update` if `condition` holds; returns the whole item after the update.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item>;

    /// Unconditional updates of several items issued together, for counters that one request
    /// adds to in many places (the recommendation rollups). Each update is atomic; the set is
    /// not: the default (DynamoDB) sends concurrent `UpdateItem`s, and after an error some may
    /// have been applied. The local store applies them in one write transaction: one commit
    /// instead of one per item (a tenth of a homepage request's time when it was one each).
    async fn update_many(&self, updates: Vec<(Key, Update)>) -> StoreResult<()> {
        futures::future::try_join_all(
            updates
                .into_iter()
                .map(|(key, update)| async move { self.update(&key, update, None).await }),
        )
        .await?;
        Ok(())
    }

    /// One page of items by partition key on the table or an index.
    async fn query(&self, query: Query) -> StoreResult<Page>;

    /// All-or-nothing writes with conditions (at most 100 operations, each item at most once).
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()>;

    /// The present items among `keys`, in the order of `keys` (missing ones skipped).
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>>;

    /// One page of one segment of a full scan.
    async fn scan(&self, scan: Scan) -> StoreResult<Page>;

    /// Short name of the backend, for status endpoints (`"dynamodb"`, `"local"`, `"memory"`).
    fn backend_name(&self) -> &'static str;

    /// Cheap health probe.
    async fn ping(&self) -> StoreResult<()>;

    /// Physically removes expired items (readers never see them anyway); returns how many.
    /// DynamoDB's own TTL sweeper does this in the cloud, so backends that have one keep this
    /// default, which does nothing.
    async fn purge_expired(&self) -> StoreResult<usize> {
        Ok(0)
    }
}

/// Every page of `query`, concatenated (for bounded partitions only).
pub async fn query_all(store: &dyn ItemStore, mut query: Query) -> StoreResult<Vec<Item>> {
    let mut out = Vec::new();
    loop {
        let page = store.query(query.clone()).await?;
        out.extend(page.items);
        match page.cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// The present items among `keys`: batch gets of 100 keys (the DynamoDB limit), `concurrency`
/// of them in flight at once, in no particular order.
pub async fn batch_get_all(
    store: &dyn ItemStore,
    keys: &[Key],
    concurrency: usize,
) -> StoreResult<Vec<Item>> {
    use futures::{StreamExt, TryStreamExt, stream};
    // The futures are made first (not in a stream closure): a closure that captures the store
    // reference makes the handler future not `Send` for axum (rustc's higher-ranked lifetimes).
    let reads: Vec<_> = keys
        .chunks(100)
        .map(|chunk| store.batch_get(chunk))
        .collect();
    let chunks: Vec<Vec<Item>> = stream::iter(reads)
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    Ok(chunks.into_iter().flatten().collect())
}

/// Serialises a value into an item (it must serialise to a JSON object).
pub fn to_item<T: Serialize>(value: &T) -> StoreResult<Item> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(StoreError::Invalid(
            "item must serialise to an object".into(),
        )),
        Err(e) => Err(StoreError::Invalid(format!("item does not serialise: {e}"))),
    }
}

/// Deserialises an item; extra attributes (keys, index keys) are ignored by the target type.
pub fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| StoreError::Backend(format!("stored item does not match its type: {e}")))
}

/// Current time as RFC 3339 UTC with milliseconds (`2026-11-26T05:10:00.123Z`): the form of
/// every record's `created_at` / `updated_at`, which sorts as text in time order.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Current time in epoch seconds.
pub fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

/// True when the item has an `expires_at` at or before `now`.
pub fn is_expired(item: &Item, now: i64) -> bool {
    item.get(EXPIRES_AT)
        .and_then(Value::as_i64)
        .is_some_and(|t| t <= now)
}
