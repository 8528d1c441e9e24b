//! The order-list query, shared by the caller's list and the admin list.

use serde::Deserialize;
use utoipa::IntoParams;
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
