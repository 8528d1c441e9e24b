//! Request and response bodies of spec 003 (every response has `success`), with the static
//! content strategy of each cluster.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::reco::clusters::ClusterName;
use utoipa::ToSchema;
use validator::Validate;

/// `GET /`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub success: bool,
    pub message: String,
    pub status: String,
    pub version: String,
}

/// `POST /classify` body. `content` is checked by hand so that a missing, non-string or blank
/// value is a 422 (not a 400 from the JSON decoder).
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct ClassifyRequest {
    /// Markdown content (at most `MAX_CONTENT_BYTES` bytes).
    #[schema(value_type = String, min_length = 1, max_length = 16384, pattern = r"\S", example = "# Teaching mathematics\n\nStrategies for differentiated learning...")]
    pub content: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Classification {
    pub theme: String,
    pub defi: String,
    /// Model probability of `theme` (0-1).
    pub theme_confidence: f32,
    /// Model probability of `defi` (0-1).
    pub defi_confidence: f32,
    /// Version of the model artifact that answered.
    pub model_version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClassifyResponse {
    pub success: bool,
    pub data: Classification,
}

/// One labelled example.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
pub struct ExampleIn {
    #[schema(min_length = 1, max_length = 65536)]
    #[validate(length(min = 1, max = 65536, message = "must be 1-65536 characters"))]
    pub content: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub theme: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub defi: String,
}

/// `POST /classify/examples` body (admin).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
pub struct AddExamplesRequest {
    #[schema(min_items = 1, max_items = 500)]
    #[validate(length(min = 1, max = 500, message = "1-500 examples"), nested)]
    pub examples: Vec<ExampleIn>,
    /// Retrain the model on every stored example after adding these (default true).
    #[serde(default = "yes")]
    pub retrain: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelInfo {
    pub version: String,
    pub trained_on: usize,
    pub trained_at: String,
    pub themes: Vec<String>,
    pub defis: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddExamplesResponse {
    pub success: bool,
    pub added: usize,
    /// The model in force after the call (the new one when `retrain`).
    pub model: ModelInfo,
}

/// One cluster of `GET /clusters`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterView {
    pub name: String,
    pub count: u64,
    /// Mean of each activity count over the cluster's users.
    pub profile: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClustersResponse {
    pub success: bool,
    /// By cluster id `"0"`..`"3"`.
    pub clusters: BTreeMap<String, ClusterView>,
    pub version: String,
    pub computed_at: String,
    pub total_users: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecomputeResponse {
    pub success: bool,
    pub message: String,
    pub total_users_processed: u64,
    /// `cluster_0`..`cluster_3` -> users.
    pub cluster_distribution: BTreeMap<String, u64>,
    pub version: String,
}

/// The content strategy of a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Recommendations {
    pub cluster_name: String,
    pub strategy: String,
    pub recommended_content_types: Vec<String>,
    pub engagement_approach: String,
    pub description: String,
    pub next_steps: String,
}

pub const RECOMMENDATION_STATUS: &str =
    "MVP - Behavioral recommendations only. Thematic personalization coming soon.";

/// The strategy of each cluster (spec 003's table; the Super Users entry is the spec's example).
pub fn recommendations_for(name: ClusterName) -> Recommendations {
    let (strategy, types, approach, description): (&str, &[&str], &str, &str) = match name {
        ClusterName::Balanced => (
            "Varied content approach",
            &["practical_guides", "tool_sheets", "short_trainings"],
            "broaden_and_deepen_usage",
            "Moderate, diversified usage across content types",
        ),
        ClusterName::EmailSpecialists => (
            "Transition to platform content",
            &["newsletter_highlights", "quick_reads", "one_click_tools"],
            "bridge_email_to_platform",
            "High email engagement, low content usage on the platform",
        ),
        ClusterName::SuperUsers => (
            "Advanced content and latest innovations",
            &["expert_training", "advanced_guides", "cutting_edge_tools"],
            "satisfy_high_expertise_needs",
            "Highly engaged users consuming diverse content types intensively",
        ),
        ClusterName::Inactive => (
            "Re-engagement and accessibility",
            &["welcome_series", "essential_tool_sheets", "short_videos"],
            "reactivate_with_low_effort_content",
            "Low engagement across the platform",
        ),
    };
    Recommendations {
        cluster_name: name.label().to_string(),
        strategy: strategy.to_string(),
        recommended_content_types: types.iter().map(|s| s.to_string()).collect(),
        engagement_approach: approach.to_string(),
        description: description.to_string(),
        next_steps: "Advanced recommendations will leverage thematic preferences analysis"
            .to_string(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecommendResponse {
    pub success: bool,
    pub cluster_id: u8,
    pub recommendations: Recommendations,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileFields {
    pub anciennete: u32,
    pub degre: u8,
    pub academie: String,
    pub niveaux_enseignes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClusterRef {
    pub id: u8,
    pub name: String,
    /// `clustering` (assigned by the last recompute) or `nearest_centroid` (user imported
    /// after it: the nearest centroid of the clustering in force).
    pub assigned_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserProfile {
    pub user_id: u64,
    pub profile: ProfileFields,
    /// The activity counts.
    pub activity: BTreeMap<String, u64>,
    /// `null` until clusters have been computed.
    pub cluster: Option<ClusterRef>,
    pub recommendations: Option<Recommendations>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileResponse {
    pub success: bool,
    pub data: UserProfile,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportResponse {
    pub success: bool,
    pub message: String,
    pub imported: usize,
}

/// `POST /user/{user_id}/activity` body (admin): counts to add.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct ActivityRequest {
    /// Counter name -> amount to add (1-10000), e.g. `{"nb_sessions": 1}`.
    pub counts: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityData {
    pub user_id: u64,
    pub activity: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActivityResponse {
    pub success: bool,
    pub data: ActivityData,
}
