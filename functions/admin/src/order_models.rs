//! Bodies of the admin order routes.

use serde::{Deserialize, Serialize};
use shared::{
    api::orders::OrderLineBody,
    domain::{
        orders::{OrderAddress, OrderStatus},
        users::Address,
    },
};
use utoipa::ToSchema;
use validator::Validate;

pub use shared::api::orders::ListOrdersQuery;

/// An order in the admin list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdminOrderSummary {
    pub id: String,
    pub order_number: String,
    pub user_id: String,
    pub total_amount: f64,
    pub status: OrderStatus,
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
    /// Checked by the validator (422 when unknown, like every other field), then parsed.
    #[validate(custom(function = "shared::domain::orders::validate_status"))]
    #[schema(value_type = OrderStatus)]
    pub status: String,
    #[schema(max_length = 1000)]
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
    pub status: OrderStatus,
    pub payment_status: String,
    pub payment_method: String,
    pub billing_address: OrderAddress,
    pub shipping_address: OrderAddress,
    pub items: Vec<OrderLineBody>,
    pub recommendation_source: Option<String>,
    pub recommendation_session_id: Option<String>,
    pub order_notes: Option<String>,
    pub admin_notes: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}
