//! Bodies of the admin order routes.

use serde::{Deserialize, Serialize};
use shared::domain::{
    orders::{OrderAddress, OrderLine, STATUSES},
    users::Address,
};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

fn validate_status(v: &str) -> Result<(), ValidationError> {
    if STATUSES.contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new("status")
            .with_message(format!("must be one of {}", STATUSES.join(", ")).into()))
    }
}

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}

/// `GET /api/v1/admin/orders/` query.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// `pending`, `confirmed`, `shipped`, `delivered` or `cancelled`.
    #[validate(custom(function = "validate_status"))]
    pub status: Option<String>,
    #[serde(default = "one")]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    #[serde(default = "twenty")]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub page_size: u32,
}

/// An order in the admin list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminOrderSummary {
    pub id: String,
    pub order_number: String,
    pub user_id: String,
    pub total_amount: f64,
    pub status: String,
    pub payment_method: String,
    pub payment_status: String,
    pub created_at: String,
    pub customer_email: Option<String>,
    pub customer_username: Option<String>,
    /// Units across the order's lines.
    pub items_count: i64,
}

/// `PUT /api/v1/admin/orders/{order_id}/status`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct UpdateStatusRequest {
    #[validate(custom(function = "validate_status"))]
    pub status: String,
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    pub admin_notes: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderCustomer {
    pub id: String,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub address: Option<Address>,
}

/// An order with its customer (admin detail, and the answer to a status change).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminOrderDetail {
    pub id: String,
    pub order_number: String,
    /// `null` when the customer's account no longer exists.
    pub user: Option<OrderCustomer>,
    pub subtotal: f64,
    pub tax_amount: f64,
    pub shipping_amount: f64,
    pub total_amount: f64,
    pub status: String,
    pub payment_status: String,
    pub payment_method: String,
    pub billing_address: OrderAddress,
    pub shipping_address: OrderAddress,
    pub items: Vec<OrderLine>,
    pub recommendation_source: Option<String>,
    pub recommendation_session_id: Option<String>,
    pub order_notes: Option<String>,
    pub admin_notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}
