//! Product and category bodies as spec 002 shows them, shared by catalog, search, users (viewed
//! products) and admin.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::catalog::ProductRecord;

/// `{"id": "...", "name": "Smartphones"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CategoryRef {
    pub id: String,
    pub name: String,
}

/// A product in lists.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ProductSummary {
    pub id: String,
    pub name: String,
    pub code: String,
    pub brand: Option<String>,
    pub price: f64,
    pub description: Option<String>,
    pub images: Vec<String>,
    /// Switched on and at least one unit in stock.
    pub in_stock: bool,
    pub stock_quantity: i64,
    pub category: CategoryRef,
    pub tags: Vec<String>,
}

impl ProductSummary {
    pub fn new(p: &ProductRecord, category_name: &str) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            code: p.code.clone(),
            brand: p.brand.clone(),
            price: p.price.to_f64(),
            description: p.description.clone(),
            images: p.images.clone(),
            in_stock: p.available(),
            stock_quantity: p.stock_quantity.max(0),
            category: CategoryRef {
                id: p.category_id.clone(),
                name: category_name.to_string(),
            },
            tags: p.tags.clone(),
        }
    }
}

/// A product with everything the detail page shows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ProductDetail {
    pub id: String,
    pub name: String,
    pub code: String,
    pub brand: Option<String>,
    pub price: f64,
    pub compare_price: Option<f64>,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub specification: Map<String, Value>,
    #[schema(value_type = Object)]
    pub technical_details: Map<String, Value>,
    pub images: Vec<String>,
    pub in_stock: bool,
    pub stock_quantity: i64,
    pub category: CategoryRef,
    pub tags: Vec<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl ProductDetail {
    pub fn new(p: &ProductRecord, category_name: &str) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            code: p.code.clone(),
            brand: p.brand.clone(),
            price: p.price.to_f64(),
            compare_price: p.compare_price.map(crate::money::Cents::to_f64),
            description: p.description.clone(),
            specification: p.specification.clone(),
            technical_details: p.technical_details.clone(),
            images: p.images.clone(),
            in_stock: p.available(),
            stock_quantity: p.stock_quantity.max(0),
            category: CategoryRef {
                id: p.category_id.clone(),
                name: category_name.to_string(),
            },
            tags: p.tags.clone(),
            meta_title: p.meta_title.clone(),
            meta_description: p.meta_description.clone(),
            is_active: p.is_active,
            created_at: p.created_at.clone(),
            updated_at: p.updated_at.clone(),
        }
    }
}
