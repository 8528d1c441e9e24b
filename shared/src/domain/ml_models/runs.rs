//! Training-run records (`MLRUN#<config id>` / `<training id>#<model>`): one per model per
//! training, under the config whose parameters it used, so a config's performance history is one
//! query. Training ids (`train_<yyyymmdd>_<hhmmss>_<millis><2 hex>`) sort by start time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::reco::eval::Metrics;
use crate::store::{self, ItemStore, PK, Query, SK, StoreResult, keys};

/// How a model's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trained, evaluated, written and switched in force.
    Completed,
    /// Not trained: not enough interactions (not an error; `reason` says how many).
    Skipped,
    /// Something failed; the previous version stays in force and `reason` says why.
    Failed,
}

/// Sizes of the data a run read and trained on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DataSizes {
    pub interactions: usize,
    pub train_interactions: usize,
    pub test_interactions: usize,
    pub users: usize,
    pub items: usize,
}

/// Wall time of each phase, in milliseconds: `read` (interactions and catalogue, shared by the
/// models of one training), `train` (fit on the training split), `evaluate` (the holdout),
/// `refit` (fit on all interactions: the version put in force), `write` (artifact, record,
/// pointer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTimings {
    pub read_ms: u64,
    pub train_ms: u64,
    pub evaluate_ms: u64,
    pub refit_ms: u64,
    pub write_ms: u64,
}

/// One model's run within one training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    pub training_id: String,
    pub model: String,
    pub config_id: String,
    pub status: RunStatus,
    #[serde(default)]
    pub reason: Option<String>,
    pub started_at: String,
    pub completed_at: String,
    pub duration_ms: u64,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    #[serde(default)]
    pub data: DataSizes,
    #[serde(default)]
    pub phases: PhaseTimings,
    /// Holdout metrics at k = 10 (none for skipped and failed runs, and for `fbt`).
    #[serde(default)]
    pub metrics: Option<Metrics>,
    /// The version put in force (completed runs that write an artifact).
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub blob_key: Option<String>,
    /// Anything model-specific (the fbt mining report).
    #[serde(default)]
    pub details: Option<Value>,
}

impl TrainingRun {
    /// The `accuracy_score` the API answers for this run: hit rate at 10 (README).
    pub fn accuracy(&self) -> Option<f64> {
        self.metrics.map(|m| m.hit_rate)
    }
}

pub async fn put(store: &dyn ItemStore, run: &TrainingRun) -> StoreResult<()> {
    let mut item = store::to_item(run)?;
    let key = keys::training_run(&run.config_id, &run.training_id, &run.model);
    item.insert(PK.into(), key.pk.into());
    item.insert(SK.into(), key.sk.into());
    item.insert("entity".into(), "training_run".into());
    store.put(item, None).await
}

/// The runs of a config, newest first (at most `limit`).
pub async fn of_config(
    store: &dyn ItemStore,
    config_id: &str,
    limit: usize,
) -> StoreResult<Vec<TrainingRun>> {
    let mut out = Vec::new();
    let mut query = Query::table(keys::training_runs_pk(config_id))
        .reverse()
        .limit(100);
    loop {
        let page = store.query(query.clone()).await?;
        for item in page.items {
            if out.len() >= limit {
                return Ok(out);
            }
            out.push(store::from_item(item)?);
        }
        match page.cursor {
            Some(c) if out.len() < limit => query.cursor = Some(c),
            _ => return Ok(out),
        }
    }
}
