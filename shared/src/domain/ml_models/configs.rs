//! ML configs in the store: one item per config in the `MLCONFIG` partition, and one pointer
//! per model type naming its active config (`ACTIVE#<model type>`).
//!
//! Invariant: exactly one active config per model type. The pointer is the truth; each config's
//! `is_active` mirrors it and moves with it in the same transaction (activate: the new config
//! set active, the old one cleared, the pointer switched on the condition that it still names
//! the old one). The default config of each type (`default-<model type>`, PARAMS.md defaults)
//! and its pointer are written together with `ItemNotExists` conditions, so any number of
//! instances may create them concurrently: the first wins, the others change nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::params::ModelType;
use crate::store::{
    self, Condition, ItemStore, PK, Query, SK, StoreError, StoreResult, TxOp, Update, keys,
};

/// A stored ML config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlConfig {
    pub id: String,
    pub name: String,
    pub model_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_active: bool,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    /// Metrics of the latest completed training run of this config (see the README for which
    /// metric each carries).
    #[serde(default)]
    pub accuracy_score: Option<f64>,
    #[serde(default)]
    pub precision_score: Option<f64>,
    #[serde(default)]
    pub recall_score: Option<f64>,
    #[serde(default)]
    pub last_trained: Option<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The id of the default config of a type.
pub fn default_id(t: ModelType) -> String {
    format!("default-{}", t.name())
}

fn config_item(c: &MlConfig) -> StoreResult<store::Item> {
    let mut item = store::to_item(c)?;
    let key = keys::ml_config(&c.id);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "ml_config".into());
    Ok(item)
}

fn pointer_item(t: ModelType, config_id: &str) -> store::Item {
    let key = keys::ml_active_config(t.name());
    let mut item = store::Item::new();
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("config_id".into(), config_id.into());
    item
}

/// Writes the default config and pointer of every type that has no active config yet
/// (idempotent; concurrent callers are harmless).
pub async fn ensure_defaults(store: &dyn ItemStore) -> StoreResult<()> {
    let pointers = store::query_all(
        store,
        Query::table(keys::ML_CONFIG_PK).begins_with(keys::ML_ACTIVE_SK_PREFIX),
    )
    .await?;
    let present: Vec<&str> = pointers
        .iter()
        .filter_map(|p| p.get(SK)?.as_str()?.strip_prefix(keys::ML_ACTIVE_SK_PREFIX))
        .collect();
    let at = now();
    for t in ModelType::ALL {
        if present.contains(&t.name()) {
            continue;
        }
        let config = MlConfig {
            id: default_id(t),
            name: format!("{}_default", t.name()),
            model_type: t.name().into(),
            description: Some(t.default_description().into()),
            is_active: true,
            parameters: t.default_params(),
            created_at: at.clone(),
            updated_at: at.clone(),
            accuracy_score: None,
            precision_score: None,
            recall_score: None,
            last_trained: None,
        };
        let ops = vec![
            TxOp::Put {
                item: config_item(&config)?,
                condition: Some(Condition::ItemNotExists),
            },
            TxOp::Put {
                item: pointer_item(t, &config.id),
                condition: Some(Condition::ItemNotExists),
            },
        ];
        match store.transact(ops).await {
            Ok(()) | Err(StoreError::TransactionCanceled { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Every config, by model type (in [`ModelType::ALL`] order) then creation time.
pub async fn list(store: &dyn ItemStore) -> StoreResult<Vec<MlConfig>> {
    let items = store::query_all(
        store,
        Query::table(keys::ML_CONFIG_PK).begins_with(keys::ML_CONFIG_SK_PREFIX),
    )
    .await?;
    let mut configs: Vec<MlConfig> = items
        .into_iter()
        .map(store::from_item)
        .collect::<StoreResult<_>>()?;
    let rank = |c: &MlConfig| {
        ModelType::parse(&c.model_type)
            .and_then(|t| ModelType::ALL.iter().position(|x| *x == t))
            .unwrap_or(usize::MAX)
    };
    configs.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.created_at.cmp(&b.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(configs)
}

pub async fn get(store: &dyn ItemStore, id: &str) -> StoreResult<Option<MlConfig>> {
    store
        .get(&keys::ml_config(id))
        .await?
        .map(store::from_item)
        .transpose()
}

/// A new config (inactive), with already validated parameters.
pub async fn create(
    store: &dyn ItemStore,
    name: &str,
    model_type: ModelType,
    description: Option<String>,
    parameters: Map<String, Value>,
) -> StoreResult<MlConfig> {
    let at = now();
    let config = MlConfig {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        model_type: model_type.name().into(),
        description,
        is_active: false,
        parameters,
        created_at: at.clone(),
        updated_at: at,
        accuracy_score: None,
        precision_score: None,
        recall_score: None,
        last_trained: None,
    };
    store
        .put(config_item(&config)?, Some(Condition::ItemNotExists))
        .await?;
    Ok(config)
}

/// Changes to a config; `parameters` replaces the stored object (the caller merges and
/// validates).
#[derive(Debug, Clone, Default)]
pub struct ConfigPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub parameters: Option<Map<String, Value>>,
}

/// Applies `patch` if the config is still at `expected_updated_at` (the version the caller
/// merged against); `Ok(None)` when it changed meanwhile (the caller re-reads and retries) or is
/// gone.
pub async fn update(
    store: &dyn ItemStore,
    id: &str,
    expected_updated_at: &str,
    patch: ConfigPatch,
) -> StoreResult<Option<MlConfig>> {
    let mut update = Update::new().set("updated_at", now());
    if let Some(n) = patch.name {
        update = update.set("name", n);
    }
    if let Some(d) = patch.description {
        update = update.set("description", d);
    }
    if let Some(p) = patch.parameters {
        update = update.set("parameters", Value::Object(p));
    }
    let condition = Condition::And(vec![
        Condition::ItemExists,
        Condition::eq("updated_at", expected_updated_at),
    ]);
    match store
        .update(&keys::ml_config(id), update, Some(condition))
        .await
    {
        Ok(item) => Ok(Some(store::from_item(item)?)),
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The id of the active config of a type (after [`ensure_defaults`]).
pub async fn active_id(store: &dyn ItemStore, t: ModelType) -> StoreResult<Option<String>> {
    Ok(store
        .get(&keys::ml_active_config(t.name()))
        .await?
        .and_then(|p| p.get("config_id")?.as_str().map(str::to_string)))
}

/// The active config of a type, writing the defaults first when none exists.
pub async fn active(store: &dyn ItemStore, t: ModelType) -> StoreResult<MlConfig> {
    for _ in 0..2 {
        if let Some(id) = active_id(store, t).await?
            && let Some(c) = get(store, &id).await?
        {
            return Ok(c);
        }
        ensure_defaults(store).await?;
    }
    Err(StoreError::Backend(format!(
        "no active ML config for {}",
        t.name()
    )))
}

/// What activation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// The config was already the active one: nothing written.
    AlreadyActive,
    Activated,
    NotFound,
}

/// Makes `id` the active config of its type (see the module docs); retried a few times when
/// a concurrent activation moved the pointer first.
pub async fn activate(store: &dyn ItemStore, id: &str) -> StoreResult<Activation> {
    ensure_defaults(store).await?;
    for _ in 0..5 {
        let Some(config) = get(store, id).await? else {
            return Ok(Activation::NotFound);
        };
        let Some(t) = ModelType::parse(&config.model_type) else {
            return Ok(Activation::NotFound);
        };
        let old = active_id(store, t).await?;
        if old.as_deref() == Some(id) && config.is_active {
            return Ok(Activation::AlreadyActive);
        }
        let at = now();
        let mut ops = vec![TxOp::Update {
            key: keys::ml_config(id),
            update: Update::new()
                .set("is_active", true)
                .set("updated_at", at.clone()),
            condition: Some(Condition::ItemExists),
        }];
        let pointer_condition = match &old {
            Some(old_id) => {
                if old_id != id {
                    ops.push(TxOp::Update {
                        key: keys::ml_config(old_id),
                        update: Update::new()
                            .set("is_active", false)
                            .set("updated_at", at.clone()),
                        condition: Some(Condition::ItemExists),
                    });
                }
                Condition::eq("config_id", old_id.clone())
            }
            None => Condition::ItemNotExists,
        };
        ops.push(TxOp::Put {
            item: pointer_item(t, id),
            condition: Some(pointer_condition),
        });
        match store.transact(ops).await {
            Ok(()) => return Ok(Activation::Activated),
            Err(StoreError::TransactionCanceled { .. } | StoreError::TransactionConflict) => {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::TransactionConflict)
}

/// Records the metrics of a completed run on its config (what the list shows).
pub async fn record_metrics(
    store: &dyn ItemStore,
    id: &str,
    accuracy: f64,
    precision: f64,
    recall: f64,
    trained_at: &str,
) -> StoreResult<()> {
    let update = Update::new()
        .set("accuracy_score", accuracy)
        .set("precision_score", precision)
        .set("recall_score", recall)
        .set("last_trained", trained_at);
    match store
        .update(&keys::ml_config(id), update, Some(Condition::ItemExists))
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Records that a config's model was trained without holdout metrics (`fbt`).
pub async fn record_metrics_trained(
    store: &dyn ItemStore,
    id: &str,
    trained_at: &str,
) -> StoreResult<()> {
    match store
        .update(
            &keys::ml_config(id),
            Update::new().set("last_trained", trained_at),
            Some(Condition::ItemExists),
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}
