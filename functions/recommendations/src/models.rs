//! Query parameters and response bodies of the recommendation list routes (spec 002 shapes, plus
//! the fields every item carries: `product_id`, `product`, `score`, `algorithm`, `reason`,
//! `explanation`, and the list's `recommendation_id`).

use serde::{Deserialize, Serialize};
use shared::api::products::{ProductDetail, ProductSummary};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

/// The `recommendation_type` values of `GET /recommendations/user`.
pub const RECOMMENDATION_TYPES: [&str; 4] = ["homepage", "product_page", "cart", "checkout"];

fn validate_type(v: &str) -> Result<(), ValidationError> {
    if RECOMMENDATION_TYPES.contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new("recommendation_type")
            .with_message("must be one of homepage, product_page, cart, checkout".into()))
    }
}

fn default_limit() -> u32 {
    10
}

fn default_fbt_limit() -> u32 {
    5
}

/// Query of `GET /api/v1/recommendations/user`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// `homepage` (default), `product_page` (needs `product_id`), `cart` or `checkout`.
    #[param(pattern = r"^(homepage|product_page|cart|checkout)$")]
    #[validate(custom(function = "validate_type"))]
    pub recommendation_type: Option<String>,
    /// The product of a `product_page` list.
    pub product_id: Option<String>,
    /// How many items, 1-50 (default 10).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

/// `limit` of the other list routes.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// How many items, 1-50 (default 10).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

/// `limit` of the FBT route.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FbtParams {
    /// How many items, 1-50 (default 5).
    #[serde(default = "default_fbt_limit")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

/// The experiment arm a list was served from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExperimentArm {
    pub experiment_id: String,
    pub arm: String,
}

/// One recommended product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecommendedItem {
    pub product_id: String,
    pub product: ProductSummary,
    /// In [0, 1], 4 decimals.
    pub score: f64,
    /// Why (e.g. `users_also_bought`, `because_you_viewed`, `similar_product`,
    /// `frequently_bought_together`, `trending`, `popular`, `popular_in_your_categories`,
    /// `new_arrival`).
    pub reason: String,
    /// The source that contributed most: `collaborative_filtering`, `item_similarity`,
    /// `vector_similarity`, `fbt`, `trending`, `popular` or `new_arrivals`.
    pub algorithm: String,
    pub explanation: String,
    /// The list's id (array-shaped responses; object-shaped ones carry it at the top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation_id: Option<String>,
    /// The A/B experiment arm that served the list, when one runs for this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentArm>,
}

/// `GET /recommendations/trending` and `/new-arrivals`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExplainedList {
    pub recommendations: Vec<RecommendedItem>,
    /// `trending` or `new_arrivals`.
    pub recommendation_type: String,
    pub recommendation_id: String,
}

/// `GET /recommendations/recommendations/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PersonalizedList {
    pub user_id: String,
    pub recommendations: Vec<RecommendedItem>,
    /// Always `personalized`.
    pub recommendation_type: String,
    pub recommendation_id: String,
}

/// One popular product (spec fields first, then the fields every item carries).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PopularItem {
    pub id: String,
    pub name: String,
    pub price: f64,
    /// Popularity relative to the most popular product (1), 4 decimals.
    pub popularity_score: f64,
    pub order_count: u64,
    pub product_id: String,
    pub product: ProductSummary,
    pub score: f64,
    pub reason: String,
    pub algorithm: String,
    pub explanation: String,
    pub recommendation_id: String,
}

/// One product bought together with the requested one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FbtItem {
    pub product_id: String,
    pub product_name: String,
    pub price: f64,
    /// Share of the orders with the requested product that also had this one.
    pub confidence: f64,
    /// Confidence over this product's share of all orders.
    pub lift: f64,
    pub in_stock: bool,
    pub product: ProductDetail,
    pub explanation: String,
    /// The confidence, in [0, 1].
    pub score: f64,
    /// Always `fbt`.
    pub algorithm: String,
    /// Always `frequently_bought_together`.
    pub reason: String,
}

/// `GET /recommendations/fbt/{product_id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FbtList {
    pub product_id: String,
    pub recommendations: Vec<FbtItem>,
    pub recommendation_id: String,
}
