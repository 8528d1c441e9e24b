//! DynamoDB implementation (aws-sdk-dynamodb + serde_dynamo). See the module docs of `store`.
//!
//! The single table has `PK`/`SK` (strings), GSI1 (`GSI1PK`/`GSI1SK`) and GSI2 (`GSI2PK`/`GSI2SK`)
//! with ALL projection, and TTL on `expires_at`.
//!
//! TTL deletion in DynamoDB is lazy (and never happens on emulators), so expiry is enforced here:
//! - reads (`get`, `batch_get`, `query`, `scan`) drop expired items in code; `query`/`scan` keep
//!   asking for more until the page is full, so the cursor (DynamoDB's `LastEvaluatedKey`, opaque)
//!   resumes exactly after the last item returned;
//! - conditions are folded with the expiry: a condition `C` becomes
//!   `(not-live AND C(absent)) OR (live AND C(item))`, where `C(absent)` is known in code, so
//!   `ItemNotExists` is `attribute_not_exists(PK) OR expires_at <= :now`;
//! - `update` must not build on an expired item (an `ADD` would count from the stale value): it is
//!   guarded by `NOT expired`; when that guard fails, the item is replaced by a fresh one (key +
//!   update) with a conditional put that still requires the old one to be expired. Transactions do
//!   the same per `Update` operation, retrying the whole transaction.
//!
//! Every attribute name and value goes through `ExpressionAttributeNames`/`Values` placeholders.
//! Gets, batch gets, table queries and scans are strongly consistent (GSI queries cannot be).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
    Update as DynUpdate,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::local::{
    apply_update, eval_condition, key_item, tx_keys, validate_item, validate_key, validate_update,
};
use super::{
    Cmp, Condition, EXPIRES_AT, GSI1PK, GSI1SK, GSI2PK, GSI2SK, Index, Item, ItemStore, Key, PK,
    Page, Query, SK, Scan, SortKey, StoreError, StoreResult, TxOp, Update, is_expired, now_epoch,
};

/// How often a write racing with an expiry (or a concurrent writer) is retried.
const MAX_ATTEMPTS: usize = 5;
/// How often unprocessed keys of a batch get are asked for again.
const MAX_BATCH_ROUNDS: u32 = 8;

/// The store on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

type AttrMap = HashMap<String, AttributeValue>;

impl DynamoStore {
    pub fn new(sdk: &aws_config::SdkConfig, table_name: &str) -> Self {
        Self {
            client: Client::new(sdk),
            table: table_name.to_string(),
        }
    }

    /// The table name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Creates the table (PAY_PER_REQUEST, both GSIs with ALL projection) if it does not exist,
    /// waits until it is active, and enables TTL on `expires_at`.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        let exists = match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e) if e.code() == Some("ResourceNotFoundException") => false,
            Err(e) => return Err(map_sdk_err(e)),
        };
        if !exists {
            let attr = |name: &str| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_err)
            };
            let key = |name: &str, kind: KeyType| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .map_err(build_err)
            };
            let gsi = |name: &str, pk: &str, sk: &str| -> StoreResult<GlobalSecondaryIndex> {
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .key_schema(key(pk, KeyType::Hash)?)
                    .key_schema(key(sk, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_err)
            };
            let created = self
                .client
                .create_table()
                .table_name(&self.table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attr(PK)?)
                .attribute_definitions(attr(SK)?)
                .attribute_definitions(attr(GSI1PK)?)
                .attribute_definitions(attr(GSI1SK)?)
                .attribute_definitions(attr(GSI2PK)?)
                .attribute_definitions(attr(GSI2SK)?)
                .key_schema(key(PK, KeyType::Hash)?)
                .key_schema(key(SK, KeyType::Range)?)
                .global_secondary_indexes(gsi("GSI1", GSI1PK, GSI1SK)?)
                .global_secondary_indexes(gsi("GSI2", GSI2PK, GSI2SK)?)
                .send()
                .await;
            match created {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceInUseException") => {}
                Err(e) => return Err(map_sdk_err(e)),
            }
        }
        self.wait_active().await?;
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(map_sdk_err)?;
        let status = ttl
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            let spec = TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(EXPIRES_AT)
                .build()
                .map_err(build_err)?;
            match self
                .client
                .update_time_to_live()
                .table_name(&self.table)
                .time_to_live_specification(spec)
                .send()
                .await
            {
                Ok(_) => {}
                // Enabled in the meantime by someone else.
                Err(e) if e.code() == Some("ValidationException") => {}
                Err(e) => return Err(map_sdk_err(e)),
            }
        }
        Ok(())
    }

    async fn wait_active(&self) -> StoreResult<()> {
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(map_sdk_err)?;
            let table = out.table();
            let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
            let indexes_active = table.is_some_and(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .all(|g| g.index_status().is_none_or(|s| s.as_str() == "ACTIVE"))
            });
            if table_active && indexes_active {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Backend(format!(
            "table {} did not become active",
            self.table
        )))
    }

    /// The stored item at `key`, expired or not (strongly consistent).
    async fn get_raw(&self, key: &Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_sdk_err)?;
        out.item.map(from_attrs).transpose()
    }

    /// One update attempt guarded by `NOT expired`; `Ok(None)` when the condition failed.
    async fn try_update(
        &self,
        key: &Key,
        update: &Update,
        condition: Option<&Condition>,
        now: i64,
    ) -> StoreResult<Option<Item>> {
        let mut ex = Expr::default();
        let guard = C::not(ex.expired(now));
        let cond = C::and(guard, condition.map_or(C::True, |c| ex.fold(c, now)));
        let update_expr = ex.update(update)?;
        let cond_expr = ex.finish_condition(cond);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_update_expression(update_expr)
            .set_condition_expression(cond_expr)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(attrs) => from_attrs(attrs).map(Some),
                None => Ok(Some(key_item(key))),
            },
            Err(e) => match map_sdk_err(e) {
                StoreError::ConditionFailed => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Writes `fresh` if the stored item is absent or expired; false when it is not.
    async fn try_put_if_not_live(&self, fresh: &Item, now: i64) -> StoreResult<bool> {
        let mut ex = Expr::default();
        let cond = ex.not_live(now);
        let cond_expr = ex.finish_condition(cond);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(fresh)?))
            .set_condition_expression(cond_expr)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match map_sdk_err(e) {
                StoreError::ConditionFailed => Ok(false),
                other => Err(other),
            },
        }
    }

    /// An update without actions: the item if the condition holds, created (key only) if
    /// absent. (An `UpdateItem` without `UpdateExpression` would do, but emulators reject it.)
    async fn touch(&self, key: &Key, condition: Option<&Condition>) -> StoreResult<Item> {
        for _ in 0..MAX_ATTEMPTS {
            let raw = self.get_raw(key).await?;
            let now = now_epoch();
            let live = raw.filter(|i| !is_expired(i, now));
            if condition.is_some_and(|c| !eval_condition(c, live.as_ref())) {
                return Err(StoreError::ConditionFailed);
            }
            if let Some(item) = live {
                return Ok(item);
            }
            let fresh = key_item(key);
            if self.try_put_if_not_live(&fresh, now).await? {
                return Ok(fresh);
            }
        }
        Err(StoreError::TransactionConflict)
    }

    fn build_tx_item(
        &self,
        op: &TxOp,
        key: &Key,
        replace_expired: bool,
        now: i64,
    ) -> StoreResult<TransactWriteItem> {
        let mut ex = Expr::default();
        let item = match op {
            TxOp::Put { item, condition } => {
                let cond = condition.as_ref().map_or(C::True, |c| ex.fold(c, now));
                let cond_expr = ex.finish_condition(cond);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(item)?))
                    .set_condition_expression(cond_expr)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update { update, .. } if replace_expired => {
                let mut fresh = key_item(key);
                apply_update(&mut fresh, update)?;
                validate_item(&fresh)?;
                let cond = C::and(
                    C::Expr(format!("attribute_exists({})", ex.name(PK))),
                    ex.expired(now),
                );
                let cond_expr = ex.finish_condition(cond);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(&fresh)?))
                    .set_condition_expression(cond_expr)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().put(put).build()
            }
            TxOp::Update {
                update, condition, ..
            } => {
                let guard = C::not(ex.expired(now));
                let cond = C::and(
                    guard,
                    condition.as_ref().map_or(C::True, |c| ex.fold(c, now)),
                );
                let update_expr = ex.update(update)?;
                let cond_expr = ex.finish_condition(cond);
                let upd = DynUpdate::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_update_expression(update_expr)
                    .set_condition_expression(cond_expr)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().update(upd).build()
            }
            TxOp::Delete { condition, .. } => {
                let cond = condition.as_ref().map_or(C::True, |c| ex.fold(c, now));
                let cond_expr = ex.finish_condition(cond);
                let del = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(cond_expr)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().delete(del).build()
            }
            TxOp::Check { condition, .. } => {
                let cond = ex.fold(condition, now);
                let cond_expr = ex.finish_required_condition(cond);
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .condition_expression(cond_expr)
                    .set_expression_attribute_names(ex.names())
                    .set_expression_attribute_values(ex.values())
                    .build()
                    .map_err(build_err)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(item)
    }
}

// ---- conversions ----------------------------------------------------------------------------

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("request: {e}"))
}

fn key_map(key: &Key) -> AttrMap {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(key.pk.clone())),
        (SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn to_attrs(item: &Item) -> StoreResult<AttrMap> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(item)
        .map_err(|e| StoreError::Invalid(format!("item does not convert: {e}")))
}

fn from_attrs(attrs: AttrMap) -> StoreResult<Item> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(attrs)
        .map_err(|e| StoreError::Backend(format!("stored item does not convert: {e}")))
}

fn to_attr_value(value: &Value) -> StoreResult<AttributeValue> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value)
        .map_err(|e| StoreError::Invalid(format!("value does not convert: {e}")))
}

fn key_of_attrs(attrs: &AttrMap) -> Option<Key> {
    match (attrs.get(PK), attrs.get(SK)) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => Some(Key::new(pk, sk)),
        _ => None,
    }
}

fn map_sdk_err<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => StoreError::Throttled,
        Some("TransactionConflictException" | "TransactionInProgressException") => {
            StoreError::TransactionConflict
        }
        Some("ValidationException") => {
            StoreError::Invalid(err.message().unwrap_or("validation failed").to_string())
        }
        _ => StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&err))),
    }
}

// ---- cursors --------------------------------------------------------------------------------

fn encode_cursor(lek: &AttrMap) -> StoreResult<String> {
    let mut obj = serde_json::Map::new();
    for (k, v) in lek {
        match v {
            AttributeValue::S(s) => {
                obj.insert(k.clone(), Value::String(s.clone()));
            }
            _ => {
                return Err(StoreError::Backend(
                    "non-string key in LastEvaluatedKey".into(),
                ));
            }
        }
    }
    let json = serde_json::to_vec(&obj).map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// Decodes a cursor into an `ExclusiveStartKey` with exactly the attributes `expected`.
fn decode_cursor(cursor: &str, expected: &[&str]) -> StoreResult<AttrMap> {
    let bad = || StoreError::Invalid("bad cursor".into());
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let obj: HashMap<String, String> = serde_json::from_slice(&json).map_err(|_| bad())?;
    if obj.len() != expected.len() || !expected.iter().all(|k| obj.contains_key(*k)) {
        return Err(bad());
    }
    Ok(obj
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

fn index_name(index: Index) -> Option<&'static str> {
    match index {
        Index::Table => None,
        Index::Gsi1 => Some("GSI1"),
        Index::Gsi2 => Some("GSI2"),
    }
}

fn cursor_attrs(index: Index) -> Vec<&'static str> {
    match index {
        Index::Table => vec![PK, SK],
        Index::Gsi1 => vec![GSI1PK, GSI1SK, PK, SK],
        Index::Gsi2 => vec![GSI2PK, GSI2SK, PK, SK],
    }
}

// ---- expressions ----------------------------------------------------------------------------

/// A condition under construction, with constants folded away.
#[derive(Debug, Clone, PartialEq)]
enum C {
    True,
    False,
    Expr(String),
}

impl C {
    fn and(a: C, b: C) -> C {
        match (a, b) {
            (C::False, _) | (_, C::False) => C::False,
            (C::True, x) | (x, C::True) => x,
            (C::Expr(a), C::Expr(b)) => C::Expr(format!("({a}) AND ({b})")),
        }
    }

    fn or(a: C, b: C) -> C {
        match (a, b) {
            (C::True, _) | (_, C::True) => C::True,
            (C::False, x) | (x, C::False) => x,
            (C::Expr(a), C::Expr(b)) => C::Expr(format!("({a}) OR ({b})")),
        }
    }

    fn not(a: C) -> C {
        match a {
            C::True => C::False,
            C::False => C::True,
            C::Expr(a) => C::Expr(format!("NOT ({a})")),
        }
    }
}

/// Placeholders of one request.
#[derive(Debug, Default)]
struct Expr {
    names: HashMap<String, String>,
    values: AttrMap,
    by_name: HashMap<String, String>,
    by_text: HashMap<String, String>,
    /// The expressions sent; placeholders that none of them mentions are dropped (DynamoDB
    /// rejects unused ones, and folding can discard parts that already allocated some).
    emitted: Vec<String>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        if let Some(p) = self.by_name.get(attr) {
            return p.clone();
        }
        let p = format!("#n{}", self.by_name.len());
        self.by_name.insert(attr.to_string(), p.clone());
        self.names.insert(p.clone(), attr.to_string());
        p
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }

    /// A string value used by the expressions themselves (type names), shared.
    fn text(&mut self, s: &str) -> String {
        if let Some(p) = self.by_text.get(s) {
            return p.clone();
        }
        let p = self.value(AttributeValue::S(s.to_string()));
        self.by_text.insert(s.to_string(), p.clone());
        p
    }

    fn now(&mut self, now: i64) -> String {
        let key = format!("\u{0}now{now}");
        if let Some(p) = self.by_text.get(&key) {
            return p.clone();
        }
        let p = self.value(AttributeValue::N(now.to_string()));
        self.by_text.insert(key, p.clone());
        p
    }

    /// `expires_at` is a number at or before now (so the item exists).
    fn expired(&mut self, now: i64) -> C {
        let e = self.name(EXPIRES_AT);
        let n = self.text("N");
        let t = self.now(now);
        C::Expr(format!("attribute_type({e}, {n}) AND {e} <= {t}"))
    }

    /// The item exists and has not expired.
    fn live(&mut self, now: i64) -> C {
        let pk = self.name(PK);
        C::and(
            C::Expr(format!("attribute_exists({pk})")),
            C::not(self.expired(now)),
        )
    }

    /// The item is absent or expired.
    fn not_live(&mut self, now: i64) -> C {
        let pk = self.name(PK);
        C::or(
            C::Expr(format!("attribute_not_exists({pk})")),
            self.expired(now),
        )
    }

    /// `cond` on the live view of the item, as an expression on the stored item.
    fn fold(&mut self, cond: &Condition, now: i64) -> C {
        let on_live = self.on_live(cond);
        if eval_condition(cond, None) {
            let absent = self.not_live(now);
            C::or(absent, on_live)
        } else {
            let live = self.live(now);
            C::and(live, on_live)
        }
    }

    /// `cond` for a stored item known to be present and live.
    fn on_live(&mut self, cond: &Condition) -> C {
        match cond {
            Condition::ItemExists => C::True,
            Condition::ItemNotExists => C::False,
            Condition::AttrExists(a) => C::Expr(format!("attribute_exists({})", self.name(a))),
            Condition::AttrNotExists(a) => {
                C::Expr(format!("attribute_not_exists({})", self.name(a)))
            }
            Condition::Compare { attr, op, value } => self.compare(attr, *op, value),
            Condition::And(cs) => cs.iter().fold(C::True, |acc, c| {
                let next = self.on_live(c);
                C::and(acc, next)
            }),
            Condition::Or(cs) => cs.iter().fold(C::False, |acc, c| {
                let next = self.on_live(c);
                C::or(acc, next)
            }),
        }
    }

    fn compare(&mut self, attr: &str, op: Cmp, value: &Value) -> C {
        let type_code = match value {
            Value::Number(_) => "N",
            Value::String(_) => "S",
            Value::Bool(_) => "BOOL",
            Value::Null => "NULL",
            Value::Array(_) => "L",
            Value::Object(_) => "M",
        };
        let orderable = matches!(value, Value::Number(_) | Value::String(_));
        if !orderable && !matches!(op, Cmp::Eq | Cmp::Ne) {
            return C::False;
        }
        let Ok(av) = to_attr_value(value) else {
            return C::False;
        };
        let a = self.name(attr);
        let v = self.value(av);
        let sym = match op {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        };
        if op == Cmp::Eq {
            return C::Expr(format!("{a} = {v}"));
        }
        // The type guard makes a missing attribute or another type false (DynamoDB's `<>` alone
        // would be true for them), and keeps mixed-type orderings from being evaluated.
        let t = self.text(type_code);
        C::Expr(format!("attribute_type({a}, {t}) AND {a} {sym} {v}"))
    }

    /// The final condition expression (`None`: unconditional).
    fn finish_condition(&mut self, cond: C) -> Option<String> {
        let expr = match cond {
            C::True => return None,
            C::Expr(s) => s,
            C::False => {
                let pk = self.name(PK);
                format!("attribute_exists({pk}) AND attribute_not_exists({pk})")
            }
        };
        Some(self.emit(expr))
    }

    /// A condition expression that must be present even when it always holds (ConditionCheck).
    fn finish_required_condition(&mut self, cond: C) -> String {
        match self.finish_condition(cond) {
            Some(expr) => expr,
            None => {
                let pk = self.name(PK);
                self.emit(format!(
                    "attribute_not_exists({pk}) OR attribute_exists({pk})"
                ))
            }
        }
    }

    /// Records an expression that will be sent.
    fn emit(&mut self, expr: String) -> String {
        self.emitted.push(expr.clone());
        expr
    }

    /// True when some emitted expression mentions `placeholder` (as a whole token).
    fn mentioned(&self, placeholder: &str) -> bool {
        self.emitted.iter().any(|e| {
            e.match_indices(placeholder).any(|(i, _)| {
                !e[i + placeholder.len()..]
                    .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        })
    }

    /// `SET ... ADD ... REMOVE ...` (`None` for an empty update).
    fn update(&mut self, update: &Update) -> StoreResult<Option<String>> {
        validate_update(update)?;
        let mut parts = Vec::new();
        if !update.set.is_empty() {
            let mut sets = Vec::new();
            for (attr, value) in &update.set {
                let a = self.name(attr);
                let v = self.value(to_attr_value(value)?);
                sets.push(format!("{a} = {v}"));
            }
            parts.push(format!("SET {}", sets.join(", ")));
        }
        if !update.add.is_empty() {
            let mut adds = Vec::new();
            for (attr, n) in &update.add {
                let a = self.name(attr);
                let v = self.value(AttributeValue::N(n.to_string()));
                adds.push(format!("{a} {v}"));
            }
            parts.push(format!("ADD {}", adds.join(", ")));
        }
        if !update.remove.is_empty() {
            let removes: Vec<String> = update.remove.iter().map(|a| self.name(a)).collect();
            parts.push(format!("REMOVE {}", removes.join(", ")));
        }
        if parts.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.emit(parts.join(" "))))
    }

    /// The `ExpressionAttributeNames` that the emitted expressions use (`None` if none).
    fn names(&mut self) -> Option<HashMap<String, String>> {
        let mut names = std::mem::take(&mut self.names);
        names.retain(|p, _| self.mentioned(p));
        (!names.is_empty()).then_some(names)
    }

    /// The `ExpressionAttributeValues` that the emitted expressions use (`None` if none).
    fn values(&mut self) -> Option<AttrMap> {
        let mut values = std::mem::take(&mut self.values);
        values.retain(|p, _| self.mentioned(p));
        (!values.is_empty()).then_some(values)
    }
}

/// `#sk <op> ...` of a query's key condition.
fn sort_key_condition(ex: &mut Expr, attr: &str, sk: &SortKey) -> String {
    let a = ex.name(attr);
    let mut v = |s: &str| ex.value(AttributeValue::S(s.to_string()));
    match sk {
        SortKey::Eq(s) => format!("{a} = {}", v(s)),
        SortKey::BeginsWith(p) => format!("begins_with({a}, {})", v(p)),
        SortKey::Between(lo, hi) => {
            let lo = v(lo);
            let hi = v(hi);
            format!("{a} BETWEEN {lo} AND {hi}")
        }
        SortKey::Lt(s) => format!("{a} < {}", v(s)),
        SortKey::Le(s) => format!("{a} <= {}", v(s)),
        SortKey::Gt(s) => format!("{a} > {}", v(s)),
        SortKey::Ge(s) => format!("{a} >= {}", v(s)),
    }
}

/// Reads items of successive pages until `limit` live items are collected or the key space ends;
/// without a limit, returns DynamoDB's own (1 MB) page as soon as it holds a live item.
/// `fetch(start, remaining)` returns one page of raw items and its `LastEvaluatedKey`.
async fn collect_pages<F, Fut>(
    start: Option<AttrMap>,
    limit: Option<u32>,
    mut fetch: F,
) -> StoreResult<Page>
where
    F: FnMut(Option<AttrMap>, Option<i32>) -> Fut,
    Fut: std::future::Future<Output = StoreResult<(Vec<AttrMap>, Option<AttrMap>)>>,
{
    if limit == Some(0) {
        return Err(StoreError::Invalid("limit must be at least 1".into()));
    }
    let now = now_epoch();
    let mut items = Vec::new();
    let mut start = start;
    loop {
        let remaining = limit.map(|l| {
            let left = (l as usize).saturating_sub(items.len());
            i32::try_from(left).unwrap_or(i32::MAX)
        });
        let (raw, lek) = fetch(start.take(), remaining).await?;
        for attrs in raw {
            let item = from_attrs(attrs)?;
            if !is_expired(&item, now) {
                items.push(item);
            }
        }
        let full = match limit {
            Some(l) => items.len() >= l as usize,
            None => !items.is_empty(),
        };
        match lek {
            None => {
                return Ok(Page {
                    items,
                    cursor: None,
                });
            }
            Some(lek) if full => {
                return Ok(Page {
                    items,
                    cursor: Some(encode_cursor(&lek)?),
                });
            }
            Some(lek) => start = Some(lek),
        }
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        validate_key(key)?;
        let now = now_epoch();
        Ok(self.get_raw(key).await?.filter(|i| !is_expired(i, now)))
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        validate_item(&item)?;
        let now = now_epoch();
        let mut ex = Expr::default();
        let cond = condition.as_ref().map_or(C::True, |c| ex.fold(c, now));
        let cond_expr = ex.finish_condition(cond);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attrs(&item)?))
            .set_condition_expression(cond_expr)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .send()
            .await
            .map_err(map_sdk_err)?;
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<Option<Item>> {
        validate_key(key)?;
        let now = now_epoch();
        let mut ex = Expr::default();
        let cond = condition.as_ref().map_or(C::True, |c| ex.fold(c, now));
        let cond_expr = ex.finish_condition(cond);
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(cond_expr)
            .set_expression_attribute_names(ex.names())
            .set_expression_attribute_values(ex.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_sdk_err)?;
        let old = out
            .attributes
            .filter(|a| !a.is_empty())
            .map(from_attrs)
            .transpose()?;
        Ok(old.filter(|i| !is_expired(i, now)))
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> StoreResult<Item> {
        validate_key(key)?;
        validate_update(&update)?;
        if update.set.is_empty() && update.add.is_empty() && update.remove.is_empty() {
            return self.touch(key, condition.as_ref()).await;
        }
        for _ in 0..MAX_ATTEMPTS {
            let now = now_epoch();
            if let Some(item) = self
                .try_update(key, &update, condition.as_ref(), now)
                .await?
            {
                return Ok(item);
            }
            // Either the condition failed, or the stored item is expired: look.
            let raw = self.get_raw(key).await?;
            let now = now_epoch();
            let expired = raw.as_ref().is_some_and(|i| is_expired(i, now));
            let live = raw.as_ref().filter(|_| !expired);
            if condition.as_ref().is_some_and(|c| !eval_condition(c, live)) {
                return Err(StoreError::ConditionFailed);
            }
            if expired {
                let mut fresh = key_item(key);
                apply_update(&mut fresh, &update)?;
                validate_item(&fresh)?;
                if self.try_put_if_not_live(&fresh, now).await? {
                    return Ok(fresh);
                }
            }
            // The item changed between the attempts: try again.
        }
        Err(StoreError::TransactionConflict)
    }

    async fn query(&self, query: Query) -> StoreResult<Page> {
        let (pk_attr, sk_attr) = query.index.key_attrs();
        let start = match &query.cursor {
            Some(c) => {
                let esk = decode_cursor(c, &cursor_attrs(query.index))?;
                if esk.get(pk_attr) != Some(&AttributeValue::S(query.pk.clone())) {
                    return Err(StoreError::Invalid(
                        "cursor belongs to another query".into(),
                    ));
                }
                Some(esk)
            }
            None => None,
        };
        let mut ex = Expr::default();
        let pk_name = ex.name(pk_attr);
        let pk_value = ex.value(AttributeValue::S(query.pk.clone()));
        let mut key_cond = format!("{pk_name} = {pk_value}");
        if let Some(sk) = &query.sk {
            key_cond = format!(
                "{key_cond} AND {}",
                sort_key_condition(&mut ex, sk_attr, sk)
            );
        }
        let key_cond = ex.emit(key_cond);
        let projection = query.projected_attrs().map(|attrs| {
            let names: Vec<String> = attrs.iter().map(|a| ex.name(a)).collect();
            ex.emit(names.join(", "))
        });
        let names = ex.names();
        let values = ex.values();
        let consistent = query.index == Index::Table;
        collect_pages(start, query.limit, |esk, limit| {
            let req = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index_name(query.index).map(str::to_string))
                .key_condition_expression(&key_cond)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .scan_index_forward(query.forward)
                .set_projection_expression(projection.clone())
                .consistent_read(consistent)
                .set_limit(limit)
                .set_exclusive_start_key(esk);
            async move {
                let out = req.send().await.map_err(map_sdk_err)?;
                Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
            }
        })
        .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        let keys = tx_keys(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        // Update operations that must replace an expired item rather than build on it.
        let mut replace = vec![false; ops.len()];
        for _ in 0..MAX_ATTEMPTS {
            let now = now_epoch();
            let items = ops
                .iter()
                .zip(&keys)
                .zip(&replace)
                .map(|((op, key), r)| self.build_tx_item(op, key, *r, now))
                .collect::<StoreResult<Vec<_>>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            let reasons: Vec<Option<String>> = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_string))
                    .collect(),
                _ => return Err(map_sdk_err(err)),
            };
            let code_at = |i: usize| reasons.get(i).cloned().flatten();
            let mut failed = Vec::new();
            let mut other = None;
            for i in 0..ops.len() {
                match code_at(i).as_deref() {
                    None | Some("None") => {}
                    Some("ConditionalCheckFailed") => failed.push(i),
                    Some(code) => other = Some(code.to_string()),
                }
            }
            if failed.is_empty() {
                return Err(match other.as_deref() {
                    Some("TransactionConflict") => StoreError::TransactionConflict,
                    Some(
                        "ThrottlingError"
                        | "ProvisionedThroughputExceeded"
                        | "RequestLimitExceeded",
                    ) => StoreError::Throttled,
                    Some("ValidationError") => StoreError::Invalid(format!(
                        "transaction rejected: {}",
                        DisplayErrorContext(&err)
                    )),
                    _ => StoreError::Backend(format!("dynamodb: {}", DisplayErrorContext(&err))),
                });
            }
            // A failed Update may have failed on the expiry guard only: look at those items.
            let mut real = Vec::new();
            for &i in &failed {
                let TxOp::Update { condition, .. } = &ops[i] else {
                    real.push(i);
                    continue;
                };
                let raw = self.get_raw(&keys[i]).await?;
                let now = now_epoch();
                let expired = raw.as_ref().is_some_and(|it| is_expired(it, now));
                let live = raw.as_ref().filter(|_| !expired);
                if condition.as_ref().is_some_and(|c| !eval_condition(c, live)) {
                    real.push(i);
                } else {
                    replace[i] = expired;
                }
            }
            if !real.is_empty() {
                return Err(StoreError::TransactionCanceled { failed: real });
            }
        }
        Err(StoreError::TransactionConflict)
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Item>> {
        for key in keys {
            validate_key(key)?;
        }
        let mut unique = Vec::new();
        let mut seen = HashSet::new();
        for key in keys {
            if seen.insert(key) {
                unique.push(key);
            }
        }
        let mut found: HashMap<Key, Item> = HashMap::new();
        for chunk in unique.chunks(100) {
            let mut pending: Vec<AttrMap> = chunk.iter().map(|k| key_map(k)).collect();
            let mut round = 0;
            while !pending.is_empty() {
                if round > 0 {
                    if round >= MAX_BATCH_ROUNDS {
                        return Err(StoreError::Throttled);
                    }
                    tokio::time::sleep(Duration::from_millis(25 << round.min(6))).await;
                }
                round += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(map_sdk_err)?;
                let mut responses = out.responses.unwrap_or_default();
                for attrs in responses.remove(&self.table).unwrap_or_default() {
                    if let Some(key) = key_of_attrs(&attrs) {
                        found.insert(key, from_attrs(attrs)?);
                    }
                }
                if let Some(mut unprocessed) = out.unprocessed_keys
                    && let Some(ka) = unprocessed.remove(&self.table)
                {
                    pending = ka.keys;
                }
            }
        }
        let now = now_epoch();
        Ok(keys
            .iter()
            .filter_map(|k| found.get(k))
            .filter(|i| !is_expired(i, now))
            .cloned()
            .collect())
    }

    async fn scan(&self, scan: Scan) -> StoreResult<Page> {
        if scan.total_segments == 0 || scan.segment >= scan.total_segments {
            return Err(StoreError::Invalid(
                "segment must be below total_segments".into(),
            ));
        }
        let segment =
            i32::try_from(scan.segment).map_err(|_| StoreError::Invalid("segment".into()))?;
        let total = i32::try_from(scan.total_segments)
            .map_err(|_| StoreError::Invalid("segments".into()))?;
        let start = scan
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, &[PK, SK]))
            .transpose()?;
        collect_pages(start, scan.limit, |esk, limit| {
            let req = self
                .client
                .scan()
                .table_name(&self.table)
                .segment(segment)
                .total_segments(total)
                .consistent_read(true)
                .set_limit(limit)
                .set_exclusive_start_key(esk);
            async move {
                let out = req.send().await.map_err(map_sdk_err)?;
                Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
            }
        })
        .await
    }

    fn backend_name(&self) -> &'static str {
        "dynamodb"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(map_sdk_err)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn item_not_exists_folds_expiry() {
        let mut ex = Expr::default();
        let c = ex.fold(&Condition::ItemNotExists, 100);
        assert_eq!(
            c,
            C::Expr(
                "(attribute_not_exists(#n0)) OR (attribute_type(#n1, :v0) AND #n1 <= :v1)".into()
            )
        );
        assert_eq!(ex.names.get("#n0").map(String::as_str), Some(PK));
        assert_eq!(ex.names.get("#n1").map(String::as_str), Some(EXPIRES_AT));
    }

    #[test]
    fn impossible_conditions_fold_to_false() {
        let mut ex = Expr::default();
        let c = Condition::And(vec![Condition::ItemExists, Condition::ItemNotExists]);
        assert_eq!(ex.fold(&c, 1), C::False);
        let c = Condition::cmp("flag", Cmp::Lt, true);
        assert_eq!(ex.on_live(&c), C::False);
    }

    #[test]
    fn cursor_round_trip() {
        let lek = key_map(&Key::new("a", "b"));
        let c = encode_cursor(&lek).unwrap();
        assert_eq!(decode_cursor(&c, &[PK, SK]).unwrap(), lek);
        assert!(decode_cursor(&c, &[GSI1PK, GSI1SK, PK, SK]).is_err());
        assert!(decode_cursor("!!", &[PK, SK]).is_err());
    }
}
