//! The order-list query and the order line body, shared by the caller's views and the admin's.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

fn one() -> u32 {
    1
}
fn twenty() -> u32 {
    20
}

/// `?status=&page=&page_size=` of the order lists.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersQuery {
    /// Only orders with this status.
    pub status: Option<crate::domain::orders::OrderStatus>,
    #[serde(default = "one")]
    #[param(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    /// Orders per page, 1-100.
    #[serde(default = "twenty")]
    #[param(minimum = 1, maximum = 100)]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub page_size: u32,
}

/// One line of an order as answered (money in decimal dollars; stored in cents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = OrderLine)]
pub struct OrderLineBody {
    pub id: String,
    pub product_id: String,
    pub product_name: String,
    pub quantity: i64,
    pub unit_price: f64,
    pub total_price: f64,
}

impl From<&crate::domain::orders::OrderLine> for OrderLineBody {
    fn from(l: &crate::domain::orders::OrderLine) -> Self {
        Self {
            id: l.id.clone(),
            product_id: l.product_id.clone(),
            product_name: l.product_name.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price.to_f64(),
            total_price: l.total_price.to_f64(),
        }
    }
}
