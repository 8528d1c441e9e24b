//! Query parameters and the documented response shapes of the spec 000 routes (the handlers
//! answer the engine's JSON, which has exactly these fields).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::domain::personalization::segments::SegmentInfo;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn default_limit() -> u32 {
    10
}

fn default_days() -> u32 {
    7
}

/// `limit` of the list routes.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// How many items, 1-50 (default 10).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

/// `days` of the content performance route.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysParams {
    /// Days of engagement, ending today, 1-30 (default 7).
    #[serde(default = "default_days")]
    #[param(minimum = 1, maximum = 30)]
    #[validate(range(min = 1, max = 30, message = "must be between 1 and 30"))]
    pub days: u32,
}

/// A user's segments.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSegmentsData {
    pub user_id: String,
    /// Segment ids: spec 000's (`25_34`, `active_user`, `multi_interest`...), then the spec 002
    /// segments the user is a member of.
    pub segments: Vec<String>,
    pub details: Vec<SegmentInfo>,
    /// Interactions of the last 90 days counted for the activity level.
    pub interactions: i64,
    /// Answered from a cache (memory or store) rather than computed for this request.
    pub cached: bool,
    pub computed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSegmentsResponse {
    pub data: UserSegmentsData,
}

/// Engagement counters.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counters {
    pub views: i64,
    pub clicks: i64,
    pub add_to_carts: i64,
    pub purchases: i64,
}

/// One content of a segment's recommendations.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentRecommendation {
    /// The content (product) id.
    pub id: String,
    pub title: String,
    /// `product`.
    pub content_type: String,
    /// `lift / (1 + lift)`: 0.5 engages as everyone does, higher is more in this segment.
    pub score: f64,
    /// The segment's engagement with the content against what everyone's rate predicts.
    pub lift: f64,
    pub segment_engagement: Counters,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentRecommendationsData {
    pub segment: String,
    pub window_days: u32,
    pub recommendations: Vec<SegmentRecommendation>,
    pub cached: bool,
    pub computed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentRecommendationsResponse {
    pub data: SegmentRecommendationsData,
}

/// Engagement of a content in one segment (`_all`: everyone).
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentEngagement {
    pub segment: String,
    pub views: i64,
    pub clicks: i64,
    pub add_to_carts: i64,
    pub purchases: i64,
    /// Per view.
    pub click_rate: f64,
    pub add_to_cart_rate: f64,
    pub purchase_rate: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentPerformanceData {
    pub content_id: String,
    /// `product` or `video` (a video's engagement is its product's).
    pub content_type: String,
    pub product_id: String,
    pub video_id: Option<String>,
    pub title: Option<String>,
    pub days: u32,
    pub overall: SegmentEngagement,
    /// Most engaged segment first.
    pub segments: Vec<SegmentEngagement>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContentPerformanceResponse {
    pub data: ContentPerformanceData,
}

/// One personalised content.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalizedItem {
    pub id: String,
    pub title: String,
    pub content_type: String,
    pub category: String,
    pub price: f64,
    /// The sum of the contributions.
    pub score: f64,
    /// Each source's weighted, normalised score: `segment`, `history`, `collaborative`,
    /// `trending`.
    pub contributions: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalizedContentData {
    pub user_id: String,
    pub segments: Vec<String>,
    /// The blend's weights in force (`PERSONALIZATION_WEIGHTS`).
    pub weights: BTreeMap<String, f64>,
    pub content: Vec<PersonalizedItem>,
    pub cached: bool,
    pub computed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalizedContentResponse {
    pub data: PersonalizedContentData,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshData {
    pub user_id: String,
    pub segments: Vec<String>,
    /// Items of personalised content computed.
    pub content_count: usize,
    pub refreshed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefreshResponse {
    pub data: RefreshData,
}
