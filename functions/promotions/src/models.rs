//! Request and response bodies (field names as spec 002 writes them).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::domain::promotions::stats::BannerStats;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// `POST /generate-promotion`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
pub struct GeneratePromotionRequest {
    /// An RFM cluster of the latest generate-rfm run (0 to n-1).
    pub cluster_id: i64,
    /// Defaults to the product's category.
    #[serde(default)]
    pub target_product_category: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    /// At most 500 characters (a sale, a season).
    #[serde(default)]
    pub additional_context: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratePromotionResponse {
    pub ad_content: String,
    /// The audit record of this text.
    pub promotion_id: String,
    pub cluster_id: u32,
    pub segment_name: String,
    pub prompt_version: String,
    /// `model`, or `template` (local backend, or a model text that stated an amount not in the facts).
    pub source: String,
    pub model_id: String,
}

/// `POST /generate-banner`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
pub struct GenerateBannerRequest {
    /// 1-1,000 characters.
    pub prompt: String,
    /// The user it is made for (recorded).
    #[serde(default)]
    pub user_id: Option<String>,
    /// `1:1`, `16:9` (default), `9:16`, `4:3` or `3:4`.
    #[serde(default)]
    pub aspect_ratio: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerateBannerResponse {
    pub banner_id: String,
    pub image_base64: String,
    /// The object key in the media bucket (`banners/<banner_id>.png`).
    pub saved_path: String,
    /// A signed GET URL of the image (1 hour), or the CDN URL when one is configured.
    pub image_url: String,
    pub prompt: String,
    pub product_id: Option<String>,
    pub aspect_ratio: String,
    pub width: u32,
    pub height: u32,
    pub model_id: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub backend: String,
    pub model_id: String,
}

/// `GET /banner/{banner_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BannerDetails {
    pub id: String,
    pub image_base64: String,
    pub image_url: String,
    pub saved_path: String,
    pub prompt: String,
    pub product_id: Option<String>,
    pub product_category: Option<String>,
    /// Null until published.
    #[schema(value_type = Object)]
    pub target_audience: Option<Value>,
    pub created_at: String,
    pub created_by: String,
    pub is_published: bool,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub priority: Option<u8>,
    pub published_at: Option<String>,
    pub aspect_ratio: String,
    pub width: u32,
    pub height: u32,
    pub user_id: Option<String>,
    pub model: ModelView,
    /// Impressions (user-banners answers to the user) and clicks, per day.
    pub stats: BannerStats,
}

/// `POST /publish-banner`.
#[derive(Debug, Deserialize, ToSchema, Validate)]
pub struct PublishBannerRequest {
    pub banner_id: String,
    /// `cluster_ids`, `segment_ids`, `region`, `min_spend`, `max_recency_days`; a criterion left
    /// out does not restrict (an empty audience is everyone).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub target_audience: Option<Value>,
    /// RFC 3339, or `YYYY-MM-DD` (start of that day, UTC). Default: now.
    #[serde(default)]
    pub start_date: Option<String>,
    /// RFC 3339, or `YYYY-MM-DD` (end of that day, UTC). Default: no end.
    #[serde(default)]
    pub end_date: Option<String>,
    /// 1-10 (10 shown first); default 5.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub priority: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BannerMessage {
    pub message: String,
    pub banner_id: String,
}

/// `POST /personalized-promotion` (form data or JSON).
#[derive(Debug, Deserialize, ToSchema, Validate)]
pub struct PersonalizedPromotionRequest {
    pub user_id: String,
    /// Defaults to the product's category.
    #[serde(default)]
    pub target_product_category: Option<String>,
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub additional_context: Option<String>,
    /// Of the banner; default `16:9`.
    #[serde(default)]
    pub aspect_ratio: Option<String>,
}

/// The user's RFM segment in a personalized promotion (named apart from the segments
/// function's `SegmentView`: OpenAPI component names are global to the merged document).
#[derive(Debug, Serialize, ToSchema)]
pub struct PromotionSegment {
    /// The RFM cluster; null for a user in none yet (no orders in the last generate-rfm window).
    pub id: Option<u32>,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignBanner {
    pub id: String,
    pub image_base64: String,
    pub saved_path: String,
    pub image_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonalizedPromotionResponse {
    pub user_id: String,
    pub segment: PromotionSegment,
    pub promotional_text: String,
    pub banner: CampaignBanner,
    pub target_product_category: String,
    pub product_id: Option<String>,
    pub additional_context: Option<String>,
    pub promotion_id: String,
}

#[derive(Debug, Deserialize, IntoParams, Validate)]
#[into_params(parameter_in = Query)]
pub struct UserBannersQuery {
    /// 1-10, default 3.
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 10)]
    #[validate(range(min = 1, max = 10, message = "must be between 1 and 10"))]
    pub limit: u32,
    /// Include each image as base64 (read from the bucket); default false (use `image_url`).
    #[serde(default)]
    pub include_image: bool,
}

fn default_limit() -> u32 {
    3
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LiveBannerView {
    pub id: String,
    /// Null unless `include_image=true`.
    pub image_base64: Option<String>,
    pub image_url: String,
    pub product_id: Option<String>,
    pub product_category: Option<String>,
    pub priority: u8,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserBannersResponse {
    pub user_id: String,
    pub banners: Vec<LiveBannerView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClickResponse {
    pub banner_id: String,
    pub counted: bool,
}
