//! Query parameters and response bodies of the catalog routes.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

/// Query of `GET /api/v1/products`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page number, from 1.
    #[serde(default = "default_page")]
    #[param(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    /// Items per page, 1-100.
    #[serde(default = "default_size")]
    #[param(minimum = 1, maximum = 100)]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub size: u32,
    /// Category name or slug (its sub-categories included).
    pub category: Option<String>,
    pub brand: Option<String>,
    #[param(minimum = 0.0)]
    #[validate(
        range(min = 0.0, message = "must not be negative"),
        custom(function = "shared::http::extract::finite")
    )]
    pub min_price: Option<f64>,
    #[param(minimum = 0.0)]
    #[validate(
        range(min = 0.0, message = "must not be negative"),
        custom(function = "shared::http::extract::finite")
    )]
    pub max_price: Option<f64>,
    pub in_stock: Option<bool>,
    /// `name`, `price`, `created_at` or `popularity` (default `created_at`).
    #[param(pattern = r"^(name|price|created_at|popularity)$")]
    #[validate(custom(function = "validate_sort_by"))]
    pub sort_by: Option<String>,
    /// `asc` or `desc` (default `desc`).
    #[param(pattern = r"^(asc|desc)$")]
    #[validate(custom(function = "validate_sort_order"))]
    pub sort_order: Option<String>,
    /// Words that must all appear in the name, description or brand.
    #[param(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    pub search_term: Option<String>,
}

fn default_page() -> u32 {
    1
}
fn default_size() -> u32 {
    20
}

fn validate_sort_by(v: &str) -> Result<(), ValidationError> {
    shared::domain::catalog::snapshot::SortBy::parse(v)
        .map(|_| ())
        .ok_or_else(|| {
            ValidationError::new("sort_by")
                .with_message("must be one of name, price, created_at, popularity".into())
        })
}

fn validate_sort_order(v: &str) -> Result<(), ValidationError> {
    shared::domain::catalog::snapshot::SortOrder::parse(v)
        .map(|_| ())
        .ok_or_else(|| {
            ValidationError::new("sort_order").with_message("must be asc or desc".into())
        })
}

/// Query of `GET /api/v1/products/{product_id}`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DetailParams {
    /// The `recommendation_id` of the list the product was opened from: counts a click on it
    /// (once per list and product). An unknown, expired or unrelated id is ignored: the page is
    /// answered anyway.
    #[param(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub rec_id: Option<String>,
}

/// Query of `GET /api/v1/products/{product_id}/similar`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimilarParams {
    /// How many similar products, 1-50 (default 10).
    #[serde(default = "default_similar")]
    #[param(minimum = 1, maximum = 50)]
    #[validate(range(min = 1, max = 50, message = "must be between 1 and 50"))]
    pub limit: u32,
}

fn default_similar() -> u32 {
    10
}

/// One similar product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SimilarProduct {
    pub id: String,
    pub name: String,
    pub price: f64,
    pub brand: Option<String>,
    pub in_stock: bool,
    /// Cosine similarity of the two products' embeddings, rounded to 4 decimals.
    pub similarity_score: f64,
    /// Always `vector_similarity`.
    pub reason: String,
}

/// Query of `GET /api/v1/products/{product_id}/frequently-bought-together`.
#[derive(Debug, Clone, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FbtParams {
    /// How many products, 1-20 (default 5).
    #[serde(default = "default_fbt")]
    #[param(minimum = 1, maximum = 20)]
    #[validate(range(min = 1, max = 20, message = "must be between 1 and 20"))]
    pub limit: u32,
}

fn default_fbt() -> u32 {
    5
}

/// A product often bought with the requested one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BoughtTogether {
    pub product_id: String,
    pub product_name: String,
    pub price: f64,
    /// Share of the orders with the requested product that also had this one.
    pub confidence: f64,
    /// Confidence divided by this product's share of all orders (above 1: bought together more
    /// often than chance).
    pub lift: f64,
    pub in_stock: bool,
    pub product: shared::api::products::ProductDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FrequentlyBoughtTogether {
    pub product_id: String,
    pub frequently_bought_together: Vec<BoughtTogether>,
    /// `mined_rules` (the last mining job) or `co_purchase_counts` (live counters, before a
    /// rule set exists for this product).
    pub source: String,
}
