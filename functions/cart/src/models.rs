//! Request and response bodies of the cart routes.

use serde::{Deserialize, Serialize};
use shared::domain::cart::{CartLine, MAX_QUANTITY};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct AddItemRequest {
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(min = 1, max = 100, message = "must be 1-100 characters"))]
    pub product_id: String,
    /// 1-100.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "shared::http::extract::integer")]
    #[validate(range(min = 1, max = MAX_QUANTITY, message = "must be between 1 and 100"))]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateItemRequest {
    /// 1-100.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(deserialize_with = "shared::http::extract::integer")]
    #[validate(range(min = 1, max = MAX_QUANTITY, message = "must be between 1 and 100"))]
    pub quantity: i64,
}

/// A cart line as `POST /cart/add` and `PUT /cart/items/{id}` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartItem {
    pub id: String,
    pub product_id: String,
    pub quantity: i64,
    pub unit_price: f64,
    pub total_price: f64,
    pub created_at: String,
}

impl From<&CartLine> for CartItem {
    fn from(l: &CartLine) -> Self {
        Self {
            id: l.id.clone(),
            product_id: l.product_id.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price.to_f64(),
            total_price: l.unit_price.times(l.quantity).to_f64(),
            created_at: l.created_at.clone(),
        }
    }
}

/// The product of a cart line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartProduct {
    pub id: String,
    pub name: String,
    pub images: Vec<String>,
    pub in_stock: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartLineView {
    pub id: String,
    pub product_id: String,
    pub quantity: i64,
    /// The product's current price.
    pub unit_price: f64,
    pub total_price: f64,
    pub product: CartProduct,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CartView {
    pub items: Vec<CartLineView>,
    /// Units across all lines.
    pub total_items: i64,
    pub subtotal: f64,
    /// Number of lines.
    pub item_count: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub message: String,
}
