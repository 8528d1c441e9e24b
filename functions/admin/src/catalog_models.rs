//! Request bodies of the admin product and category routes.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

/// Product codes: 1-64 letters, digits, `-`, `_` or `.`.
fn validate_code(v: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("code")
            .with_message("must be 1-64 letters, digits, '-', '_' or '.'".into()))
    }
}

fn validate_tags(tags: &[String]) -> Result<(), ValidationError> {
    if tags.len() > 30 {
        return Err(ValidationError::new("tags").with_message("at most 30 tags".into()));
    }
    if tags
        .iter()
        .any(|t| t.trim().is_empty() || t.chars().count() > 50)
    {
        return Err(
            ValidationError::new("tags").with_message("each tag must be 1-50 characters".into())
        );
    }
    Ok(())
}

fn validate_images(images: &[String]) -> Result<(), ValidationError> {
    if images.len() > 20 {
        return Err(ValidationError::new("images").with_message("at most 20 images".into()));
    }
    if images
        .iter()
        .any(|u| u.len() > 2048 || !(u.starts_with("https://") || u.starts_with("http://")))
    {
        return Err(ValidationError::new("images")
            .with_message("each image must be an http(s) URL of at most 2048 characters".into()));
    }
    Ok(())
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/admin/products/`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateProductRequest {
    #[schema(min_length = 1, max_length = 200)]
    #[validate(length(min = 1, max = 200, message = "must be 1-200 characters"))]
    pub name: String,
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    #[validate(custom(function = "validate_code"))]
    pub code: String,
    /// Greater than 0, at most two decimal places (kept in integer cents).
    #[schema(minimum = 0.01, maximum = 10000000.0, multiple_of = 0.01)]
    #[validate(
        range(
            exclusive_min = 0.0,
            max = 10000000.0,
            message = "must be greater than 0"
        ),
        custom(function = "shared::money::validate_amount")
    )]
    pub price: f64,
    #[schema(minimum = 0.01, maximum = 10000000.0, multiple_of = 0.01)]
    #[validate(
        range(
            exclusive_min = 0.0,
            max = 10000000.0,
            message = "must be greater than 0"
        ),
        custom(function = "shared::money::validate_amount")
    )]
    pub compare_price: Option<f64>,
    pub category_id: String,
    #[schema(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub brand: Option<String>,
    #[schema(max_length = 10000)]
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub specification: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub technical_details: Map<String, Value>,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::image_list_schema)]
    #[validate(custom(function = "validate_images"))]
    pub images: Vec<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100000000)]
    #[validate(range(min = 0, max = 100000000, message = "must be between 0 and 100000000"))]
    pub stock_quantity: i64,
    #[serde(default = "yes")]
    pub in_stock: bool,
    #[serde(default)]
    #[schema(schema_with = shared::openapi::tag_list_schema)]
    #[validate(custom(function = "validate_tags"))]
    pub tags: Vec<String>,
    #[schema(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    pub meta_title: Option<String>,
    #[schema(max_length = 500)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    pub meta_description: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

/// `PUT /api/v1/admin/products/{product_id}`: only the fields sent change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateProductRequest {
    #[schema(min_length = 1, max_length = 200)]
    #[validate(length(min = 1, max = 200, message = "must be 1-200 characters"))]
    pub name: Option<String>,
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    #[validate(custom(function = "validate_code"))]
    pub code: Option<String>,
    #[schema(minimum = 0.01, maximum = 10000000.0, multiple_of = 0.01)]
    #[validate(
        range(
            exclusive_min = 0.0,
            max = 10000000.0,
            message = "must be greater than 0"
        ),
        custom(function = "shared::money::validate_amount")
    )]
    pub price: Option<f64>,
    #[schema(minimum = 0.01, maximum = 10000000.0, multiple_of = 0.01)]
    #[validate(
        range(
            exclusive_min = 0.0,
            max = 10000000.0,
            message = "must be greater than 0"
        ),
        custom(function = "shared::money::validate_amount")
    )]
    pub compare_price: Option<f64>,
    pub category_id: Option<String>,
    #[schema(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub brand: Option<String>,
    #[schema(max_length = 10000)]
    #[validate(length(max = 10000, message = "must be at most 10000 characters"))]
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub specification: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub technical_details: Option<Map<String, Value>>,
    #[schema(schema_with = shared::openapi::optional_image_list_schema)]
    #[validate(custom(function = "validate_images"))]
    pub images: Option<Vec<String>>,
    #[schema(minimum = 0, maximum = 100000000)]
    #[validate(range(min = 0, max = 100000000, message = "must be between 0 and 100000000"))]
    pub stock_quantity: Option<i64>,
    pub in_stock: Option<bool>,
    #[schema(schema_with = shared::openapi::optional_tag_list_schema)]
    #[validate(custom(function = "validate_tags"))]
    pub tags: Option<Vec<String>>,
    #[schema(max_length = 200)]
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    pub meta_title: Option<String>,
    #[schema(max_length = 500)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    pub meta_description: Option<String>,
    pub is_active: Option<bool>,
}

/// `POST /api/v1/admin/categories` (not in spec 002, which has no way to make categories).
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateCategoryRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub slug: Option<String>,
    #[schema(max_length = 1000)]
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    pub description: Option<String>,
    pub parent_id: Option<String>,
    /// Products of this category are bought again and again (food, ink, filters): a shopper's
    /// purchases of them may be recommended to them again (default false).
    #[serde(default)]
    pub consumable: bool,
}
