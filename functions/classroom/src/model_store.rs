//! Where the classifier lives: labelled examples in the store, the trained model as a JSON
//! artifact in the blob store, and a [`ModelCache`] in the function's state so a warm Lambda loads
//! it once.
//!
//! - Examples: `CLASSIFY#EXAMPLES` / `<created_at>#<id>` items ([`keys::classify_example`]). The
//!   starter set ([`starter_examples`], `data/starter_examples.jsonl`, compiled in) is written
//!   there the first time a model is needed and none exist.
//! - Artifact: `models/classroom/classifier/<version>.json` in the blob store; the version in
//!   force is `CLASSIFY#MODEL` / `CURRENT` (`version`, `blob_key`, `examples`).
//! - Cache: one [`ModelCache`] per function instance (a field of its state); the pointer is
//!   re-read at most every [`RECHECK`], so a retrain made by another instance is picked up within
//!   that time, and a retrain made here is visible at once.
//! - First use with no model: train from the stored examples, write the artifact, then create the
//!   pointer only if it still does not exist (two cold instances racing: one wins, the other
//!   loads the winner's model).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::{
    AppState,
    blobs::BlobError,
    store::{
        Condition, ItemStore, PK, Query, SK, StoreError, TxOp, from_item, keys, query_all, to_item,
    },
};

use crate::classifier::{self, Example, TextModel, TrainParams};

/// How often a cached model checks the pointer for a newer version.
pub const RECHECK: Duration = Duration::from_secs(30);

const STARTER: &str = include_str!("../data/starter_examples.jsonl");

/// The starter labelled set shipped with the function.
pub fn starter_examples() -> Vec<Example> {
    STARTER
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A model ready to answer, with its term index.
#[derive(Debug)]
pub struct LoadedModel {
    pub version: String,
    pub model: TextModel,
    index: HashMap<String, usize>,
}

impl LoadedModel {
    fn new(version: String, model: TextModel) -> Self {
        let index = model.index();
        Self {
            version,
            model,
            index,
        }
    }

    pub fn predict(&self, text: &str) -> classifier::Prediction {
        self.model.predict_with(text, &self.index)
    }
}

/// The pointer item.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pointer {
    version: String,
    blob_key: String,
    examples: usize,
    trained_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("model artifact is unreadable: {0}")]
    Artifact(String),
    #[error(transparent)]
    Train(#[from] classifier::TrainError),
    #[error("training task failed: {0}")]
    Task(String),
}

struct Entry {
    model: Arc<LoadedModel>,
    checked: Instant,
}

/// The model in force for one function instance, with when the pointer was last checked.
#[derive(Default)]
pub struct ModelCache {
    entry: Mutex<Option<Entry>>,
}

impl ModelCache {
    /// The cached model and whether it was checked within [`RECHECK`].
    fn cached(&self) -> Option<(Arc<LoadedModel>, bool)> {
        let entry = self.entry.lock().ok()?;
        let entry = entry.as_ref()?;
        Some((entry.model.clone(), entry.checked.elapsed() < RECHECK))
    }

    fn remember(&self, model: Arc<LoadedModel>) {
        if let Ok(mut entry) = self.entry.lock() {
            *entry = Some(Entry {
                model,
                checked: Instant::now(),
            });
        }
    }

    /// The model in force: from the cache, else the artifact the pointer names, else a new model
    /// trained from the stored examples (seeding the starter set first if there are none).
    pub async fn current(&self, state: &AppState) -> Result<Arc<LoadedModel>, ModelError> {
        let stale = match self.cached() {
            Some((model, true)) => return Ok(model),
            Some((model, false)) => Some(model),
            None => None,
        };
        let pointer: Option<Pointer> = state
            .store
            .get(&keys::classify_model_current())
            .await?
            .map(from_item)
            .transpose()?;
        let loaded = match (pointer, stale) {
            (Some(p), Some(old)) if p.version == old.version => old,
            (Some(p), _) => Arc::new(load(state, &p).await?),
            (None, _) => train_and_publish(state, true).await?,
        };
        self.remember(loaded.clone());
        Ok(loaded)
    }

    /// [`train_and_publish`], then this instance answers with the new model at once.
    pub async fn retrain(&self, state: &AppState) -> Result<Arc<LoadedModel>, ModelError> {
        let loaded = train_and_publish(state, false).await?;
        self.remember(loaded.clone());
        Ok(loaded)
    }
}

async fn load(state: &AppState, pointer: &Pointer) -> Result<LoadedModel, ModelError> {
    let blob = state.blobs.get(&pointer.blob_key).await?;
    let model: TextModel =
        serde_json::from_slice(&blob.body).map_err(|e| ModelError::Artifact(e.to_string()))?;
    tracing::info!(version = %pointer.version, examples = pointer.examples, "classifier loaded");
    Ok(LoadedModel::new(pointer.version.clone(), model))
}

/// Every stored example, oldest first.
pub async fn stored_examples(store: &dyn ItemStore) -> Result<Vec<Example>, StoreError> {
    query_all(store, Query::table(keys::CLASSIFY_EXAMPLES_PK))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Stores examples (in transactions of up to 100).
pub async fn add_examples(
    store: &dyn ItemStore,
    examples: &[Example],
    source: &str,
) -> Result<(), StoreError> {
    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    for chunk in examples.chunks(100) {
        let mut ops = Vec::with_capacity(chunk.len());
        for e in chunk {
            let id = uuid::Uuid::now_v7().simple().to_string();
            let key = keys::classify_example(&created_at, &id);
            let mut item = to_item(e)?;
            item.insert(PK.into(), key.pk.into());
            item.insert(SK.into(), key.sk.into());
            item.insert("source".into(), json!(source));
            ops.push(TxOp::Put {
                item,
                condition: None,
            });
        }
        store.transact(ops).await?;
    }
    Ok(())
}

/// Trains on every stored example, writes the artifact and switches the pointer to it (callers
/// put the result in their [`ModelCache`]).
/// `only_if_absent`: the first model (lose a race gracefully: load the winner's model).
pub async fn train_and_publish(
    state: &AppState,
    only_if_absent: bool,
) -> Result<Arc<LoadedModel>, ModelError> {
    let store = state.store.as_ref();
    let mut examples = stored_examples(store).await?;
    if examples.is_empty() {
        examples = starter_examples();
        add_examples(store, &examples, "starter").await?;
    }
    let n = examples.len();
    // CPU-bound: off the async workers.
    let model =
        tokio::task::spawn_blocking(move || classifier::train(&examples, &TrainParams::default()))
            .await
            .map_err(|e| ModelError::Task(e.to_string()))??;
    let version = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let blob_key = format!("models/classroom/classifier/{version}.json");
    let body = serde_json::to_vec(&model).map_err(|e| ModelError::Artifact(e.to_string()))?;
    state
        .blobs
        .put(&blob_key, Bytes::from(body), "application/json")
        .await?;
    let pointer = Pointer {
        version: version.clone(),
        blob_key,
        examples: n,
        trained_at: model.trained_at.clone(),
    };
    let mut item = to_item(&pointer)?;
    let key = keys::classify_model_current();
    item.insert(PK.into(), key.pk.clone().into());
    item.insert(SK.into(), key.sk.clone().into());
    let condition = only_if_absent.then_some(Condition::ItemNotExists);
    match store.put(item, condition).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            // Another instance published first: use its model.
            let winner: Pointer = match store.get(&key).await? {
                Some(item) => from_item(item)?,
                None => return Err(StoreError::ConditionFailed.into()),
            };
            return Ok(Arc::new(load(state, &winner).await?));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(%version, examples = n, "classifier trained and published");
    Ok(Arc::new(LoadedModel::new(version, model)))
}
