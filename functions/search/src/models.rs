//! Query parameters and bodies of the search routes.

use serde::{Deserialize, Serialize};
use shared::api::products::ProductDetail;
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

/// The sorts of `GET /api/v1/search/`.
pub const SORTS: [&str; 5] = ["relevance", "price_low", "price_high", "name", "newest"];

fn validate_sort(v: &str) -> Result<(), ValidationError> {
    if SORTS.contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new("sort_by")
            .with_message(format!("must be one of {}", SORTS.join(", ")).into()))
    }
}

fn not_blank(v: &str) -> Result<(), ValidationError> {
    if v.trim().is_empty() {
        Err(ValidationError::new("q").with_message("must not be empty".into()))
    } else {
        Ok(())
    }
}

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}
fn five() -> u32 {
    5
}

/// `GET /api/v1/search/` (brands come as repeated `brand[]` or `brand` parameters).
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The search words (required, 1-200 characters, not only spaces).
    #[param(min_length = 1, max_length = 200, pattern = r"\S")]
    #[validate(
        length(min = 1, max = 200, message = "must be 1-200 characters"),
        custom(function = "not_blank")
    )]
    pub q: String,
    /// Only this category (and its sub-categories).
    pub category_id: Option<String>,
    #[param(minimum = 0.0)]
    #[validate(
        range(min = 0.0, message = "must not be negative"),
        custom(function = "shared::http::extract::finite")
    )]
    pub price_min: Option<f64>,
    #[param(minimum = 0.0)]
    #[validate(
        range(min = 0.0, message = "must not be negative"),
        custom(function = "shared::http::extract::finite")
    )]
    pub price_max: Option<f64>,
    pub in_stock: Option<bool>,
    /// `relevance` (default), `price_low`, `price_high`, `name` or `newest`.
    #[param(pattern = r"^(relevance|price_low|price_high|name|newest)$")]
    #[validate(custom(function = "validate_sort"))]
    pub sort_by: Option<String>,
    #[serde(default = "one")]
    #[param(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    #[serde(default = "twenty")]
    #[param(minimum = 1, maximum = 100)]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub page_size: u32,
    /// Filled from `brand[]` / `brand` by the handler.
    #[serde(skip)]
    #[param(ignore)]
    pub brands: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub id: String,
    pub name: String,
    pub price: f64,
    /// Blend of text match (70%) and vector similarity (30%), in [0, 1].
    pub relevance_score: f64,
    /// `title_brand_match`, `title_match`, `brand_match`, `category_match`, `tag_match`,
    /// `description_match` or `semantic_match`.
    pub match_reason: String,
    pub in_stock: bool,
    pub product: ProductDetail,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// Id of this search in the search log, for `track-click`.
    pub search_id: String,
    pub products: Vec<SearchHit>,
    pub total_count: u64,
    pub page: u32,
    pub page_size: u32,
    pub total_pages: u64,
    pub response_time_ms: u64,
    pub search_suggestions: Vec<String>,
}

/// `GET /api/v1/search/suggestions`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionParams {
    /// A prefix (1-100 characters, not only spaces).
    #[param(min_length = 1, max_length = 100, pattern = r"\S")]
    #[validate(
        length(min = 1, max = 100, message = "must be 1-100 characters"),
        custom(function = "not_blank")
    )]
    pub q: String,
    /// 1-20 (default 5).
    #[serde(default = "five")]
    #[param(minimum = 1, maximum = 20)]
    #[validate(range(min = 1, max = 20, message = "must be between 1 and 20"))]
    pub limit: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct TrackClickRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub search_id: String,
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub product_id: String,
    /// 1-based position of the product in the results.
    #[schema(minimum = 1, maximum = 10000)]
    #[serde(deserialize_with = "shared::http::extract::integer")]
    #[validate(range(min = 1, max = 10000, message = "must be between 1 and 10000"))]
    pub position: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}
