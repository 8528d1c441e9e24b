//! The `reco-train` job: for each requested model, read the interactions (weighted by the active
//! `interactions` config) and the catalogue, fit on a time-based holdout split (each user's
//! latest 20%), evaluate at k = 10, refit on all interactions, write the artifact
//! (`models/reco/<model>/<version>`, [`crate::reco::artifact`] format) and the item ids of its
//! columns (`.../<version>.items`), record the run, and only then switch the model's pointer
//! (`RECOMODEL#<model>` / `CURRENT`) to the new version.
//!
//! Why refit on everything rather than keep the training-split fit: the split holds out each
//! user's *latest* interactions, exactly the ones that matter most for what to recommend next;
//! the holdout measures the method and parameters, the refit is what serves.
//!
//! A model that fails leaves its previous version in force and records why. Too little data
//! (fewer than [`MIN_INTERACTIONS`] interactions or [`MIN_USERS`] users) records `skipped` with
//! the reason `not enough interactions`, not an error; a model that says so itself
//! (`FitError::NotEnoughData`, e.g. content without embeddings) is `skipped` too. `fbt`
//! runs the association-rule mining over orders ([`crate::domain::fbt::mine_and_store`]); its
//! result is the rule sets the catalog serves, and it gets a run record too.
//!
//! One training at a time: [`acquire_lock`] puts the lock item with `ItemNotExists` and an
//! `expires_at` ([`LOCK_TTL_SECS`]), so a crashed run's lock lapses by itself; [`release_lock`]
//! deletes it on the condition that it still names this training.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::configs::{self, MlConfig};
use super::params::ModelType;
use super::runs::{self, DataSizes, PhaseTimings, RunStatus, TrainingRun};
use crate::blobs::BlobStore;
use crate::domain::{catalog, fbt, interactions};
use crate::reco::{
    artifact,
    data::{Dataset, IdMap, Interaction},
    eval::{self, Metrics},
    model::ModelKind,
    registry::{self, FitError, TrainInput, TrainedModel},
};
use crate::store::{Condition, EXPIRES_AT, ItemStore, PK, SK, StoreError, StoreResult, keys};

/// Fewer interactions than this: every interaction model is skipped.
pub const MIN_INTERACTIONS: usize = 20;
/// Fewer distinct users than this: every interaction model is skipped.
pub const MIN_USERS: usize = 2;
/// Holdout fraction (each user's most recent 20% of interactions).
pub const TEST_FRACTION: f64 = 0.2;
/// Cut-off of the ranking metrics.
pub const K: usize = 10;
/// Lifetime of the training lock: longer than a Lambda can run (15 min), so only a crashed run
/// leaves it to lapse.
pub const LOCK_TTL_SECS: i64 = 30 * 60;
/// The reason of a skipped run.
pub const NOT_ENOUGH: &str = "not enough interactions";

/// A model's `fit`: [`registry::fit`] in production; tests pass their own.
pub type FitFn =
    fn(ModelKind, &Map<String, Value>, &TrainInput<'_>) -> Result<Box<dyn TrainedModel>, FitError>;

/// Every model a `retrain_all` trains (all kinds but `kmeans`, which comes with segmentation),
/// base models before the ones built on them.
pub fn all_trainable() -> Vec<ModelKind> {
    ModelKind::ALL
        .into_iter()
        .filter(|k| *k != ModelKind::Kmeans)
        .collect()
}

/// A new training id: `train_<yyyymmdd>_<hhmmss>_<millis><2 hex>` (sorts by start time to the
/// millisecond; the random suffix separates two ids of one millisecond).
pub fn new_training_id(at: DateTime<Utc>) -> String {
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..2];
    format!("train_{}{suffix}", at.format("%Y%m%d_%H%M%S_%3f"))
}

/// The pointer to the version of a model in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPointer {
    pub model: String,
    pub version: String,
    pub blob_key: String,
    pub items_key: String,
    pub training_id: String,
    pub config_id: String,
    pub trained_at: String,
    #[serde(default)]
    pub metrics: Option<Metrics>,
}

/// The blob key of a model version's artifact.
pub fn artifact_key(kind: ModelKind, version: &str) -> String {
    format!("models/reco/{}/{version}", kind.name())
}

/// The blob key of the item ids (one per artifact column) of a model version.
pub fn items_key(kind: ModelKind, version: &str) -> String {
    format!("models/reco/{}/{version}.items", kind.name())
}

/// The pointer of a model kind, if a version is in force.
pub async fn pointer(store: &dyn ItemStore, kind: ModelKind) -> StoreResult<Option<ModelPointer>> {
    store
        .get(&keys::reco_model_current(kind.name()))
        .await?
        .map(crate::store::from_item)
        .transpose()
}

async fn put_pointer(store: &dyn ItemStore, p: &ModelPointer) -> StoreResult<()> {
    let mut item = crate::store::to_item(p)?;
    let key = keys::reco_model_current(&p.model);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    store.put(item, None).await
}

/// Another training holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("training {training_id} is in progress")]
pub struct InProgress {
    /// The running training's id ("" when unknown).
    pub training_id: String,
}

/// Takes the training lock for `training_id` (see the module docs).
pub async fn acquire_lock(
    store: &dyn ItemStore,
    training_id: &str,
    models: &[ModelKind],
) -> Result<Result<(), InProgress>, StoreError> {
    let key = keys::training_lock();
    let mut item = crate::store::Item::new();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    item.insert("training_id".into(), training_id.into());
    item.insert(
        "models".into(),
        models.iter().map(|m| m.name()).collect::<Vec<_>>().into(),
    );
    item.insert("started_at".into(), Utc::now().to_rfc3339().into());
    item.insert(
        EXPIRES_AT.into(),
        (Utc::now().timestamp() + LOCK_TTL_SECS).into(),
    );
    match store.put(item, Some(Condition::ItemNotExists)).await {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::ConditionFailed) => {
            let holder = store
                .get(&key)
                .await?
                .and_then(|i| i.get("training_id")?.as_str().map(str::to_string))
                .unwrap_or_default();
            Ok(Err(InProgress {
                training_id: holder,
            }))
        }
        Err(e) => Err(e),
    }
}

/// Releases the lock if `training_id` still holds it.
pub async fn release_lock(store: &dyn ItemStore, training_id: &str) -> StoreResult<()> {
    match store
        .delete(
            &keys::training_lock(),
            Some(Condition::eq("training_id", training_id)),
        )
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

/// One model's line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    /// `completed`, `failed: <why>` or `skipped: not enough interactions`.
    pub outcome: String,
    pub version: Option<String>,
    pub metrics: Option<Metrics>,
    pub phases: PhaseTimings,
    pub duration_ms: u64,
}

/// What a training did (the job's report, like the fbt job's: wall time per phase).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub training_id: String,
    pub started_at: String,
    pub completed_at: String,
    pub data: DataSizes,
    /// Totals over the models, in milliseconds (`read` once for all).
    pub phases: PhaseTimings,
    pub wall_ms: u64,
    pub models: Vec<ModelReport>,
}

fn ms(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Everything the fits of one training share (owned, so fits run on the blocking pool).
struct Context {
    all: Vec<Interaction>,
    train: Vec<Interaction>,
    test: Vec<Interaction>,
    catalog: Vec<String>,
    created_at: HashMap<String, i64>,
    embeddings: HashMap<String, Vec<f32>>,
    /// Category index (order of first appearance in the catalogue) per product.
    category: HashMap<String, u32>,
    /// Price in currency units per product.
    price: HashMap<String, f32>,
    now: i64,
}

/// The per-column side data of a data set, in [`TrainInput`]'s column order.
struct Columns {
    created: Vec<Option<i64>>,
    embeddings: Vec<Option<Vec<f32>>>,
    category: Vec<Option<u32>>,
    price: Vec<Option<f32>>,
}

/// The per-column side data of a data set.
fn columns(ctx: &Context, items: &IdMap) -> Columns {
    let ids = items.ids();
    Columns {
        created: ids
            .iter()
            .map(|id| ctx.created_at.get(id).copied())
            .collect(),
        embeddings: ids
            .iter()
            .map(|id| ctx.embeddings.get(id).cloned())
            .collect(),
        category: ids.iter().map(|id| ctx.category.get(id).copied()).collect(),
        price: ids.iter().map(|id| ctx.price.get(id).copied()).collect(),
    }
}

impl Columns {
    fn input<'a>(
        &'a self,
        data: &'a Dataset,
        interactions: &'a [Interaction],
        now: i64,
        seed: u64,
    ) -> TrainInput<'a> {
        TrainInput {
            data,
            interactions,
            item_created_at: &self.created,
            item_embeddings: &self.embeddings,
            item_category: &self.category,
            item_price: &self.price,
            now,
            seed,
        }
    }
}

/// What fitting one model produced (on the blocking pool).
struct Fitted {
    metrics: Metrics,
    artifact: Vec<u8>,
    item_ids: Vec<String>,
    train_ms: u64,
    evaluate_ms: u64,
    refit_ms: u64,
}

fn seed_of(params: &Map<String, Value>) -> u64 {
    params
        .get("random_state")
        .and_then(Value::as_u64)
        .unwrap_or(42)
}

fn fit_evaluate_refit(
    fit: FitFn,
    kind: ModelKind,
    params: &Map<String, Value>,
    ctx: &Context,
) -> Result<Fitted, FitError> {
    let seed = seed_of(params);
    let t = Instant::now();
    let train_ds = Dataset::from_interactions(&ctx.train, Some(&ctx.catalog));
    let cols = columns(ctx, &train_ds.items);
    let model = fit(
        kind,
        params,
        &cols.input(&train_ds, &ctx.train, ctx.now, seed),
    )?;
    let train_ms = ms(t);
    let t = Instant::now();
    let metrics = eval::evaluate(&train_ds, &ctx.test, K, |history| {
        model
            .recommend(history, K, &[])
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    });
    let evaluate_ms = ms(t);
    drop(model);
    let t = Instant::now();
    let full_ds = Dataset::from_interactions(&ctx.all, Some(&ctx.catalog));
    let cols = columns(ctx, &full_ds.items);
    let model = fit(kind, params, &cols.input(&full_ds, &ctx.all, ctx.now, seed))?;
    let artifact = model
        .to_artifact()
        .map_err(|e| FitError::Failed(format!("artifact: {e}")))?;
    let refit_ms = ms(t);
    Ok(Fitted {
        metrics,
        artifact,
        item_ids: full_ds.items.ids().to_vec(),
        train_ms,
        evaluate_ms,
        refit_ms,
    })
}

/// Reads what the models train on: interactions weighted by the active `interactions` config,
/// and the catalogue's active product ids, creation times and (when `content` is requested)
/// embeddings.
async fn read_context(store: &dyn ItemStore, with_embeddings: bool) -> StoreResult<Context> {
    let weights_config = configs::active(store, ModelType::Interactions).await?;
    let weights = interactions::KindWeights::from_params(&weights_config.parameters);
    let all = interactions::training_interactions(store, &weights).await?;
    let products = catalog::list_all_products(store).await?;
    let mut catalog_ids = Vec::with_capacity(products.len());
    let mut created_at = HashMap::new();
    let mut category_index: HashMap<&str, u32> = HashMap::new();
    let mut category = HashMap::new();
    let mut price = HashMap::new();
    for p in products.iter().filter(|p| p.is_active) {
        catalog_ids.push(p.id.clone());
        if let Ok(t) = DateTime::parse_from_rfc3339(&p.created_at) {
            created_at.insert(p.id.clone(), t.timestamp());
        }
        let next = u32::try_from(category_index.len()).unwrap_or(u32::MAX);
        let index = *category_index.entry(p.category_id.as_str()).or_insert(next);
        category.insert(p.id.clone(), index);
        price.insert(p.id.clone(), p.price.to_f64() as f32);
    }
    let mut embeddings = HashMap::new();
    if with_embeddings {
        for chunk in catalog_ids.chunks(100) {
            for (id, e) in catalog::get_embeddings(store, chunk).await? {
                embeddings.insert(id, e.vector);
            }
        }
    }
    let (train, test) = eval::time_holdout(&all, TEST_FRACTION);
    Ok(Context {
        all,
        train,
        test,
        catalog: catalog_ids,
        created_at,
        embeddings,
        category,
        price,
        now: Utc::now().timestamp(),
    })
}

fn data_sizes(ctx: &Context) -> DataSizes {
    let users: HashSet<&str> = ctx.all.iter().map(|i| i.user.as_str()).collect();
    let mut items: HashSet<&str> = ctx.catalog.iter().map(String::as_str).collect();
    items.extend(ctx.all.iter().map(|i| i.item.as_str()));
    DataSizes {
        interactions: ctx.all.len(),
        train_interactions: ctx.train.len(),
        test_interactions: ctx.test.len(),
        users: users.len(),
        items: items.len(),
    }
}

/// Runs one training of `models` (the caller holds the lock; see [`run_locked`]). Store errors
/// reading the shared data fail the whole training; a model's own failure is recorded in its run
/// and the others go on.
pub async fn run(
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    training_id: &str,
    models: &[ModelKind],
    fit: FitFn,
) -> StoreResult<TrainReport> {
    let started = Utc::now();
    let wall = Instant::now();
    let t = Instant::now();
    let ctx = Arc::new(read_context(store.as_ref(), models.contains(&ModelKind::Content)).await?);
    let read_ms = ms(t);
    let data = data_sizes(&ctx);
    let enough = data.interactions >= MIN_INTERACTIONS && data.users >= MIN_USERS;
    let mut reports = Vec::new();
    let mut totals = PhaseTimings {
        read_ms,
        ..PhaseTimings::default()
    };
    for &kind in models {
        let Some(model_type) = ModelType::of_kind(kind) else {
            continue;
        };
        let config = configs::active(store.as_ref(), model_type).await?;
        let run_started = Utc::now();
        let t0 = Instant::now();
        let mut run = TrainingRun {
            training_id: training_id.to_string(),
            model: kind.name().to_string(),
            config_id: config.id.clone(),
            status: RunStatus::Failed,
            reason: None,
            started_at: stamp(run_started),
            completed_at: String::new(),
            duration_ms: 0,
            parameters: config.parameters.clone(),
            data,
            phases: PhaseTimings {
                read_ms,
                ..PhaseTimings::default()
            },
            metrics: None,
            version: None,
            blob_key: None,
            details: None,
        };
        if kind == ModelKind::Fbt {
            train_fbt(store.as_ref(), &config, &mut run).await;
        } else if kind == ModelKind::Kmeans {
            train_kmeans(store.as_ref(), &config, &mut run).await;
        } else if !enough {
            run.status = RunStatus::Skipped;
            run.reason = Some(format!(
                "{NOT_ENOUGH}: {} interactions from {} users (at least {MIN_INTERACTIONS} from {MIN_USERS} users)",
                data.interactions, data.users
            ));
        } else {
            train_model(
                store.as_ref(),
                blobs.as_ref(),
                &ctx,
                kind,
                &config,
                fit,
                &mut run,
            )
            .await;
        }
        run.duration_ms = ms(t0);
        run.completed_at = stamp(Utc::now());
        if let Err(e) = runs::put(store.as_ref(), &run).await {
            tracing::error!(error = %e, model = kind.name(), "training run record not written");
        }
        if run.status == RunStatus::Completed {
            if let Some(m) = run.metrics {
                configs::record_metrics(
                    store.as_ref(),
                    &config.id,
                    m.hit_rate,
                    m.precision,
                    m.recall,
                    &run.completed_at,
                )
                .await?;
            } else {
                // fbt: no holdout metrics, but it was trained.
                configs::record_metrics_trained(store.as_ref(), &config.id, &run.completed_at)
                    .await?;
            }
        }
        totals.train_ms += run.phases.train_ms;
        totals.evaluate_ms += run.phases.evaluate_ms;
        totals.refit_ms += run.phases.refit_ms;
        totals.write_ms += run.phases.write_ms;
        let outcome = match run.status {
            RunStatus::Completed => "completed".to_string(),
            RunStatus::Skipped => match run.reason.as_deref() {
                Some(r) if r.starts_with(NOT_ENOUGH) => format!("skipped: {NOT_ENOUGH}"),
                Some(r) => format!("skipped: {r}"),
                None => "skipped".to_string(),
            },
            RunStatus::Failed => format!("failed: {}", run.reason.clone().unwrap_or_default()),
        };
        tracing::info!(model = kind.name(), %outcome, ms = run.duration_ms, "model trained");
        reports.push(ModelReport {
            model: run.model.clone(),
            outcome,
            version: run.version.clone(),
            metrics: run.metrics,
            phases: run.phases,
            duration_ms: run.duration_ms,
        });
    }
    Ok(TrainReport {
        training_id: training_id.to_string(),
        started_at: stamp(started),
        completed_at: stamp(Utc::now()),
        data,
        phases: totals,
        wall_ms: ms(wall),
        models: reports,
    })
}

async fn train_fbt(store: &dyn ItemStore, config: &MlConfig, run: &mut TrainingRun) {
    let min_support = config
        .parameters
        .get("min_support_count")
        .and_then(Value::as_u64)
        .filter(|n| *n >= 1)
        .unwrap_or(fbt::DEFAULT_MIN_SUPPORT);
    match fbt::mine_and_store(store, min_support).await {
        Ok(report) => {
            run.status = RunStatus::Completed;
            run.phases.read_ms = report.read_ms;
            run.phases.train_ms = report.mine_ms;
            run.phases.write_ms = report.write_ms;
            run.details = serde_json::to_value(&report).ok();
        }
        Err(e) => {
            run.status = RunStatus::Failed;
            run.reason = Some(format!("fbt mining: {e}"));
        }
    }
}

/// The `kmeans` model: RFM segment generation with the config's parameters
/// ([`crate::domain::segments::rfm::generate`]); fewer customers than clusters skips the run.
async fn train_kmeans(store: &dyn ItemStore, config: &MlConfig, run: &mut TrainingRun) {
    use crate::domain::segments::rfm::{self, RfmError, RfmRequest};
    let int = |name: &str, default: u64| {
        config
            .parameters
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    let defaults = RfmRequest::default();
    let req = RfmRequest {
        n_clusters: int("n_clusters", defaults.n_clusters as u64).clamp(2, 12) as usize,
        lookback_days: int("lookback_days", u64::from(defaults.lookback_days)).clamp(1, 3650)
            as u32,
        restarts: int("restarts", defaults.restarts as u64).clamp(1, 50) as usize,
        seed: int("random_state", defaults.seed),
    };
    match rfm::generate(store, &req).await {
        Ok(outcome) => {
            run.status = RunStatus::Completed;
            run.phases.train_ms = outcome.kmeans_ms.round() as u64;
            run.details = serde_json::to_value(&outcome).ok();
        }
        Err(e @ RfmError::NotEnoughCustomers { .. }) => {
            run.status = RunStatus::Skipped;
            run.reason = Some(format!("not enough customers: {e}"));
        }
        Err(e) => {
            run.status = RunStatus::Failed;
            run.reason = Some(format!("rfm segments: {e}"));
        }
    }
}

async fn train_model(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    ctx: &Arc<Context>,
    kind: ModelKind,
    config: &MlConfig,
    fit: FitFn,
    run: &mut TrainingRun,
) {
    let params = config.parameters.clone();
    let shared = Arc::clone(ctx);
    let fitted = tokio::task::spawn_blocking(move || {
        // A model that panics fails its run, not the training.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fit_evaluate_refit(fit, kind, &params, &shared)
        }))
        .unwrap_or_else(|_| Err(FitError::Failed("the model panicked while fitting".into())))
    })
    .await
    .unwrap_or_else(|e| Err(FitError::Failed(format!("fit task: {e}"))));
    let fitted = match fitted {
        Ok(f) => f,
        Err(FitError::NotEnoughData(why)) => {
            // The model's own verdict (e.g. content without embeddings).
            run.status = RunStatus::Skipped;
            run.reason = Some(format!("not enough data: {why}"));
            return;
        }
        Err(e) => {
            run.status = RunStatus::Failed;
            run.reason = Some(e.to_string());
            return;
        }
    };
    run.phases.train_ms = fitted.train_ms;
    run.phases.evaluate_ms = fitted.evaluate_ms;
    run.phases.refit_ms = fitted.refit_ms;
    run.metrics = Some(fitted.metrics);
    let t = Instant::now();
    let version = run.training_id.clone();
    let blob_key = artifact_key(kind, &version);
    let ids_key = items_key(kind, &version);
    let written = async {
        let ids = artifact::encode(kind, &fitted.item_ids).map_err(|e| format!("item ids: {e}"))?;
        blobs
            .put(&ids_key, Bytes::from(ids), "application/octet-stream")
            .await
            .map_err(|e| format!("writing {ids_key}: {e}"))?;
        blobs
            .put(
                &blob_key,
                Bytes::from(fitted.artifact),
                "application/octet-stream",
            )
            .await
            .map_err(|e| format!("writing {blob_key}: {e}"))?;
        // The run record goes first: the pointer only ever names a version with a record.
        run.status = RunStatus::Completed;
        run.version = Some(version.clone());
        run.blob_key = Some(blob_key.clone());
        run.completed_at = stamp(Utc::now());
        runs::put(store, run)
            .await
            .map_err(|e| format!("run record: {e}"))?;
        put_pointer(
            store,
            &ModelPointer {
                model: kind.name().to_string(),
                version: version.clone(),
                blob_key: blob_key.clone(),
                items_key: ids_key.clone(),
                training_id: run.training_id.clone(),
                config_id: config.id.clone(),
                trained_at: run.completed_at.clone(),
                metrics: run.metrics,
            },
        )
        .await
        .map_err(|e| format!("switching the model in force: {e}"))
    }
    .await;
    run.phases.write_ms = ms(t);
    if let Err(why) = written {
        run.status = RunStatus::Failed;
        run.version = None;
        run.blob_key = None;
        run.reason = Some(why);
    }
}

/// The jobs function's entry: takes the lock unless `held` (the train route took it and passed
/// its training id), runs, and releases the lock whatever happened. `Ok(None)`: another
/// training holds the lock (nothing done).
pub async fn run_locked(
    store: Arc<dyn ItemStore>,
    blobs: Arc<dyn BlobStore>,
    training_id: Option<&str>,
    models: &[ModelKind],
    fit: FitFn,
) -> StoreResult<Result<TrainReport, InProgress>> {
    let id = match training_id {
        Some(id) => id.to_string(),
        None => {
            let id = new_training_id(Utc::now());
            if let Err(busy) = acquire_lock(store.as_ref(), &id, models).await? {
                return Ok(Err(busy));
            }
            id
        }
    };
    let result = run(Arc::clone(&store), blobs, &id, models, fit).await;
    release_lock(store.as_ref(), &id).await?;
    result.map(Ok)
}

/// A short JSON summary of a report (logs, `local` output).
pub fn summary(report: &TrainReport) -> Value {
    json!({
        "training_id": report.training_id,
        "wall_ms": report.wall_ms,
        "phases": report.phases,
        "models": report.models.iter().map(|m| json!({"model": m.model, "outcome": m.outcome})).collect::<Vec<_>>(),
    })
}

/// The default fit: the registry.
pub fn registry_fit() -> FitFn {
    registry::fit
}

#[cfg(test)]
mod column_tests {
    use super::*;
    use crate::ai::local::LocalEmbedder;
    use crate::domain::catalog::NewProduct;
    use crate::fixtures;
    use crate::money::Cents;
    use crate::store::local::LocalStore;

    /// The ranker's category and price features get the catalogue's categories and prices.
    #[tokio::test]
    async fn columns_carry_each_products_category_and_price() {
        let store = LocalStore::in_memory().unwrap();
        let embedder = LocalEmbedder::new(8);
        let mut ids = Vec::new();
        for (code, cat, price) in [
            ("a", "Audio", 10.0),
            ("b", "Books", 2.5),
            ("c", "Audio", 99.99),
        ] {
            let category = fixtures::category(&store, cat).await;
            let p = catalog::create_product(
                &store,
                &embedder,
                NewProduct {
                    name: format!("Product {code}"),
                    code: code.into(),
                    price: Cents::round_from(price),
                    in_stock: true,
                    stock_quantity: 5,
                    category_id: category.id,
                    is_active: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            ids.push(p.id);
        }
        let ctx = read_context(&store, false).await.unwrap();
        let cols = columns(&ctx, &IdMap::from_ids(ids.clone()));
        let (a, b, c) = (cols.category[0], cols.category[1], cols.category[2]);
        assert!(a.is_some() && b.is_some());
        assert_eq!(a, c, "same category, same index");
        assert_ne!(a, b);
        assert_eq!(cols.price, vec![Some(10.0), Some(2.5), Some(99.99)]);
        let none = columns(&ctx, &IdMap::from_ids(vec!["gone".into()]));
        assert_eq!((none.category[0], none.price[0]), (None, None));
    }
}
