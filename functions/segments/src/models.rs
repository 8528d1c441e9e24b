//! Request and response bodies (spec 002 shapes).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// A segment as listed (spec shape, plus `id`-adjacent times).
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// `rfm`, `behavioral`, `demographic`, `interest` or `manual`.
    pub segment_type: String,
    #[schema(value_type = Object)]
    pub criteria: Value,
    /// Members of the membership in force (recompute, plus real-time and manual changes).
    pub member_count: u64,
    pub is_active: bool,
    pub auto_update: bool,
    /// When the membership was last recomputed (or the segment created).
    pub last_updated: String,
    pub created_at: String,
}

/// `POST /segments` (fields checked by hand so every error names its field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateSegmentRequest {
    /// 1-100 characters, unique (case-insensitive).
    #[schema(value_type = String)]
    pub name: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Value>,
    /// `rfm`, `behavioral`, `demographic`, `interest` or `manual`.
    #[schema(value_type = String)]
    pub segment_type: Option<Value>,
    /// Typed per `segment_type` (README); `{}` for manual.
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Value>,
    /// Recomputed by the hourly `segments-refresh` job and re-evaluated on the user's writes
    /// (default true).
    #[schema(value_type = Option<bool>)]
    pub auto_update: Option<Value>,
    /// Default true.
    #[schema(value_type = Option<bool>)]
    pub is_active: Option<Value>,
}

/// `PUT /segments/{segment_id}`: only the fields sent change; `criteria` are merged into the
/// stored ones (a `null` value removes one).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateSegmentRequest {
    #[schema(value_type = Option<String>)]
    pub name: Option<Value>,
    #[schema(value_type = Option<String>)]
    pub description: Option<Value>,
    /// Must equal the stored type when sent.
    #[schema(value_type = Option<String>)]
    pub segment_type: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Value>,
    #[schema(value_type = Option<bool>)]
    pub auto_update: Option<Value>,
    #[schema(value_type = Option<bool>)]
    pub is_active: Option<Value>,
}

fn default_days() -> u32 {
    30
}

/// Query of `GET /segments/analytics`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsParams {
    /// One segment (all when absent).
    pub segment_id: Option<String>,
    /// Period, 1-365 days ending today (default 30).
    #[serde(default = "default_days")]
    #[param(minimum = 1, maximum = 365)]
    #[validate(range(min = 1, max = 365, message = "must be between 1 and 365"))]
    pub days: u32,
}

/// One row of `GET /segments/analytics`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentAnalytics {
    pub segment_id: String,
    pub segment_name: String,
    pub member_count: u64,
    /// Percent of members with an order in the period (one decimal).
    pub conversion_rate: f64,
    /// Mean total of the members' orders in the period (currency units, two decimals).
    pub avg_order_value: f64,
}

/// `POST /segments/{segment_id}/recalculate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecalculateResponse {
    pub message: String,
    pub member_count: u64,
}

fn default_limit() -> u32 {
    100
}

/// Query of `GET /segments/{segment_id}/users`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersParams {
    /// 1-1000 (default 100).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 1000)]
    #[validate(range(min = 1, max = 1000, message = "must be between 1 and 1000"))]
    pub limit: u32,
    /// 0-100000 (default 0).
    #[serde(default)]
    #[param(minimum = 0, maximum = 100000)]
    #[validate(range(max = 100_000, message = "must be between 0 and 100000"))]
    pub offset: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentUser {
    pub user_id: String,
    pub email: String,
    pub joined_at: String,
}

/// `GET /segments/{segment_id}/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentUsers {
    pub segment_id: String,
    pub segment_name: String,
    pub total_users: u64,
    pub users: Vec<SegmentUser>,
}

/// Add and remove answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipResponse {
    pub message: String,
    pub segment_id: String,
    pub user_id: String,
    /// Add: false when the user was already a member (now marked manual).
    pub changed: bool,
}

/// `POST /segments/generate-rfm` (fields checked by hand so every error names its field).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct GenerateRfmRequest {
    /// 2-12 (default 5).
    #[schema(value_type = Option<u32>)]
    pub n_clusters: Option<Value>,
    /// 1-3650 (default 365).
    #[schema(value_type = Option<u32>)]
    pub lookback_days: Option<Value>,
}

/// One generated segment.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedSegmentView {
    pub segment_id: String,
    pub name: String,
    pub member_count: u64,
}

/// `POST /segments/generate-rfm` (spec shape, plus the segments made).
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerateRfmResponse {
    pub message: String,
    pub segments_created: usize,
    pub total_users_segmented: usize,
    pub segments: Vec<GeneratedSegmentView>,
}
