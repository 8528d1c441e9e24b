//! Request and response bodies of the orders routes.

use serde::{Deserialize, Serialize};
use shared::{
    api::orders::OrderLineBody,
    domain::orders::{OrderAddress, OrderRecord, OrderStatus, PAYMENT_METHODS},
};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

fn validate_payment_method(v: &str) -> Result<(), ValidationError> {
    if PAYMENT_METHODS.contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::new("payment_method")
            .with_message(format!("must be one of {}", PAYMENT_METHODS.join(", ")).into()))
    }
}

/// `POST /api/v1/orders/`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct CreateOrderRequest {
    /// Defaults to the address in the caller's profile.
    #[validate(nested)]
    pub billing_address: Option<OrderAddress>,
    /// Defaults to the billing address.
    #[validate(nested)]
    pub shipping_address: Option<OrderAddress>,
    /// Default `cash_on_delivery`.
    #[schema(
        pattern = r"^(cash_on_delivery|credit_card|debit_card|paypal|bank_transfer|apple_pay|google_pay|upi|wallet)$"
    )]
    #[validate(custom(function = "validate_payment_method"))]
    pub payment_method: Option<String>,
    #[schema(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub recommendation_source: Option<String>,
    #[schema(max_length = 100)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    pub recommendation_session_id: Option<String>,
    #[schema(max_length = 1000)]
    #[validate(length(max = 1000, message = "must be at most 1000 characters"))]
    pub order_notes: Option<String>,
}

pub use shared::api::orders::ListOrdersQuery;

/// An order with everything (create and detail).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderDetail {
    pub id: String,
    pub order_number: String,
    pub subtotal: f64,
    pub tax_amount: f64,
    pub shipping_amount: f64,
    pub total_amount: f64,
    pub status: OrderStatus,
    pub payment_status: String,
    pub payment_method: String,
    pub billing_address: OrderAddress,
    pub shipping_address: OrderAddress,
    pub recommendation_source: Option<String>,
    pub recommendation_session_id: Option<String>,
    pub order_notes: Option<String>,
    pub created_at: String,
    pub items: Vec<OrderLineBody>,
}

impl From<OrderRecord> for OrderDetail {
    fn from(o: OrderRecord) -> Self {
        Self {
            id: o.id,
            order_number: o.order_number,
            subtotal: o.subtotal.to_f64(),
            tax_amount: o.tax_amount.to_f64(),
            shipping_amount: o.shipping_amount.to_f64(),
            total_amount: o.total_amount.to_f64(),
            status: o.status,
            payment_status: o.payment_status,
            payment_method: o.payment_method,
            billing_address: o.billing_address,
            shipping_address: o.shipping_address,
            recommendation_source: o.recommendation_source,
            recommendation_session_id: o.recommendation_session_id,
            order_notes: o.order_notes,
            created_at: o.created_at,
            items: o.items.iter().map(OrderLineBody::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderSummaryLine {
    pub product_id: String,
    pub product_name: String,
    pub quantity: i64,
    pub unit_price: f64,
}

/// An order in the list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub order_number: String,
    pub total_amount: f64,
    pub status: OrderStatus,
    pub payment_method: String,
    pub created_at: String,
    pub items: Vec<OrderSummaryLine>,
}

impl From<OrderRecord> for OrderSummary {
    fn from(o: OrderRecord) -> Self {
        Self {
            id: o.id,
            order_number: o.order_number,
            total_amount: o.total_amount.to_f64(),
            status: o.status,
            payment_method: o.payment_method,
            created_at: o.created_at,
            items: o
                .items
                .into_iter()
                .map(|i| OrderSummaryLine {
                    product_id: i.product_id,
                    product_name: i.product_name,
                    quantity: i.quantity,
                    unit_price: i.unit_price.to_f64(),
                })
                .collect(),
        }
    }
}
