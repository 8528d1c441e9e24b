//! The serving side of trained models: [`ModelCache`] loads the version in force of a model
//! kind once per version per instance and keeps it in memory.
//!
//! The pointer (`RECOMODEL#<model>` / `CURRENT`) is re-read at most every `refresh` per kind;
//! only a new version triggers a load (artifact + item ids from the blob store). A load that
//! fails (missing blob, checksum mismatch, wrong kind) is logged and remembered, and the cache
//! keeps serving the version it had, or `None` when it had none, so the caller falls back to
//! popularity: a broken artifact is never a 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::blobs::BlobStore;
use crate::reco::{
    artifact::{self, ArtifactError},
    data::IdMap,
    model::ModelKind,
    registry::{self, TrainedModel},
};
use crate::store::ItemStore;

use super::training::{self, ModelPointer};

/// A model's `load`: [`registry::load`] in production; tests pass their own.
pub type LoadFn = fn(ModelKind, &[u8]) -> Result<Box<dyn TrainedModel>, ArtifactError>;

/// A loaded model version.
#[derive(Clone)]
pub struct ServedModel {
    pub kind: ModelKind,
    pub version: String,
    pub model: Arc<dyn TrainedModel>,
    /// The product id of each of the model's item columns.
    pub items: Arc<IdMap>,
}

impl std::fmt::Debug for ServedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedModel")
            .field("kind", &self.kind)
            .field("version", &self.version)
            .field("items", &self.items.len())
            .finish()
    }
}

#[derive(Default)]
struct Slot {
    served: Option<ServedModel>,
    /// A version whose load failed (not retried until the pointer names another).
    failed_version: Option<String>,
    checked_at: Option<Instant>,
}

/// Per-instance cache of the models in force (see the module docs).
pub struct ModelCache {
    slots: Mutex<HashMap<ModelKind, Slot>>,
    refresh: Duration,
    load: LoadFn,
}

impl std::fmt::Debug for ModelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCache")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl Default for ModelCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(30), registry::load)
    }
}

/// Why a version did not load.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("blob {0}: {1}")]
    Blob(String, crate::blobs::BlobError),
    #[error("artifact {0}: {1}")]
    Artifact(String, ArtifactError),
}

impl ModelCache {
    /// Re-reads each pointer at most every `refresh`; loads with `load`.
    pub fn new(refresh: Duration, load: LoadFn) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            refresh,
            load,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ModelKind, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The model of `kind` in force on this instance, or `None` when no version ever loaded.
    /// Never an error: failures are logged and the previous version served.
    pub async fn get(
        &self,
        store: &dyn ItemStore,
        blobs: &dyn BlobStore,
        kind: ModelKind,
    ) -> Option<ServedModel> {
        let current = {
            let slots = self.lock();
            let slot = slots.get(&kind);
            let fresh = slot
                .and_then(|s| s.checked_at)
                .is_some_and(|t| t.elapsed() < self.refresh);
            if fresh {
                return slot.and_then(|s| s.served.clone());
            }
            slot.and_then(|s| s.served.clone())
        };
        let pointer = match training::pointer(store, kind).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, model = kind.name(), "model pointer not read; serving the loaded version");
                return current;
            }
        };
        let Some(pointer) = pointer else {
            self.lock().entry(kind).or_default().checked_at = Some(Instant::now());
            return current;
        };
        let known_bad = self
            .lock()
            .get(&kind)
            .and_then(|s| s.failed_version.clone())
            .is_some_and(|v| v == pointer.version);
        if current
            .as_ref()
            .is_some_and(|c| c.version == pointer.version)
            || known_bad
        {
            self.lock().entry(kind).or_default().checked_at = Some(Instant::now());
            return current;
        }
        let loaded = self.load_version(blobs, kind, &pointer).await;
        let mut slots = self.lock();
        let slot = slots.entry(kind).or_default();
        slot.checked_at = Some(Instant::now());
        match loaded {
            Ok(model) => {
                slot.served = Some(model);
                slot.failed_version = None;
            }
            Err(e) => {
                tracing::error!(
                    error = %e,
                    model = kind.name(),
                    version = %pointer.version,
                    serving = ?slot.served.as_ref().map(|s| s.version.clone()),
                    "model version did not load; keeping the previous one"
                );
                slot.failed_version = Some(pointer.version.clone());
            }
        }
        slot.served.clone()
    }

    async fn load_version(
        &self,
        blobs: &dyn BlobStore,
        kind: ModelKind,
        pointer: &ModelPointer,
    ) -> Result<ServedModel, LoadError> {
        let body = blobs
            .get(&pointer.blob_key)
            .await
            .map_err(|e| LoadError::Blob(pointer.blob_key.clone(), e))?
            .body;
        let model = (self.load)(kind, &body)
            .map_err(|e| LoadError::Artifact(pointer.blob_key.clone(), e))?;
        let ids = blobs
            .get(&pointer.items_key)
            .await
            .map_err(|e| LoadError::Blob(pointer.items_key.clone(), e))?
            .body;
        let ids: Vec<String> = artifact::decode(kind, &ids)
            .map_err(|e| LoadError::Artifact(pointer.items_key.clone(), e))?;
        Ok(ServedModel {
            kind,
            version: pointer.version.clone(),
            model: Arc::from(model),
            items: Arc::new(IdMap::from_ids(ids)),
        })
    }
}
