//! Request and response bodies (spec 002 shapes; see the README for what each metric carries).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::domain::ml_models::MlConfig;
use utoipa::ToSchema;
use validator::Validate;

/// A config as listed (spec shape, plus `created_at` / `updated_at`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    pub id: String,
    pub name: String,
    pub model_type: String,
    pub description: Option<String>,
    pub is_active: bool,
    /// Hit rate at 10 of the latest completed training run (null before one).
    pub accuracy_score: Option<f64>,
    /// Precision at 10 of the latest completed run.
    pub precision_score: Option<f64>,
    /// Recall at 10 of the latest completed run.
    pub recall_score: Option<f64>,
    pub last_trained: Option<String>,
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

fn round4(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 10_000.0).round() / 10_000.0)
}

impl From<MlConfig> for ConfigView {
    fn from(c: MlConfig) -> Self {
        Self {
            id: c.id,
            name: c.name,
            model_type: c.model_type,
            description: c.description,
            is_active: c.is_active,
            accuracy_score: round4(c.accuracy_score),
            precision_score: round4(c.precision_score),
            recall_score: round4(c.recall_score),
            last_trained: c.last_trained,
            parameters: c.parameters,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `POST /ml-config/` (fields checked by hand so every error names its field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateConfigRequest {
    /// 1-100 characters.
    #[schema(value_type = String)]
    pub name: Option<Value>,
    /// collaborative (alias als), item_knn, ease, content, popularity, trending, new_arrivals,
    /// fbt, ranker (alias lightgbm), hybrid, interactions.
    #[schema(value_type = String)]
    pub model_type: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Value>,
    /// The type's parameters (README table); omitted ones take the model's defaults.
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
}

/// `PUT /ml-config/{config_id}`: only the fields sent change; `parameters` are merged into the
/// stored ones (a `null` value removes one).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateConfigRequest {
    #[schema(value_type = Option<String>)]
    pub name: Option<Value>,
    /// Must equal the stored type when sent (a config does not change type).
    #[schema(value_type = Option<String>)]
    pub model_type: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

/// How the recommendations this model type serves did over the last 30 days, from the daily
/// rollups of the recommendation tracking (`shared::domain::rec_tracking`). The counters are per
/// algorithm family, not per config: the figures of the family the model type serves under,
/// whichever config of the type was active (see `family`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationPerformance {
    /// Items served (impressions).
    pub total_recommendations: u64,
    /// Percent, one decimal.
    pub click_rate: f64,
    /// Percent, one decimal.
    pub conversion_rate: f64,
    /// Mean served score, two decimals.
    pub average_score: f64,
    /// The family of the performance route the figures are (`collaborative` for collaborative,
    /// item_knn and ease; `content_based` for content; `trending` for popularity, trending and
    /// new_arrivals; `fbt`; `hybrid` for hybrid and ranker, which act on blended lists; `all` for
    /// interactions, whose weights feed every model).
    pub family: String,
    /// Days the figures cover (today included).
    pub period_days: u32,
    /// Always true: serving is tracked.
    pub tracked: bool,
}

/// One training run of the config.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub training_id: String,
    pub model: String,
    pub started_at: String,
    pub completed_at: String,
    /// Hit rate at 10 (null for skipped and failed runs, and fbt).
    pub accuracy_score: Option<f64>,
    /// completed, skipped or failed.
    pub status: String,
    /// Why a run was skipped or failed.
    pub reason: Option<String>,
    pub duration_ms: u64,
    /// precision, recall, ndcg, hit_rate, map (at k = 10), coverage, users_evaluated.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    #[schema(value_type = Object)]
    pub data: Value,
    #[schema(value_type = Object)]
    pub phases: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PerformanceResponse {
    pub config_id: String,
    pub model_type: String,
    /// Hit rate at 10 of the latest completed run.
    pub accuracy_score: Option<f64>,
    /// Mean hit rate at 10 over the completed runs.
    pub average_accuracy: Option<f64>,
    /// Number of training runs of this config (any status).
    pub training_count: usize,
    pub last_trained: Option<String>,
    pub recommendation_performance: RecommendationPerformance,
    /// Newest first (at most 100).
    pub training_history: Vec<HistoryEntry>,
}

/// `POST /ml-config/train`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct TrainRequest {
    /// Train every model (all but kmeans) when `specific_models` is absent or empty.
    #[schema(value_type = Option<bool>)]
    pub retrain_all: Option<Value>,
    /// Models to train: als, item_knn, ease, content, popularity, trending, new_arrivals, fbt,
    /// lightgbm (or ranker), hybrid, kmeans (RFM user segments: generates the `rfm` segments).
    #[schema(value_type = Option<Vec<String>>)]
    pub specific_models: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrainResponse {
    pub training_id: String,
    /// Always `started`.
    pub status: String,
    pub models_training: Vec<String>,
    /// A rough estimate (30 s per model).
    pub estimated_completion: String,
}
