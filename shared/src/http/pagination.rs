//! Page-number pagination parameters and the spec's pagination envelope.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// `page` (from 1) and `page_size` (1-100, default 20).
#[derive(Debug, Clone, Copy, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page number, from 1.
    #[serde(default = "default_page")]
    #[param(minimum = 1, maximum = 100000)]
    #[validate(range(min = 1, max = 100000, message = "must be between 1 and 100000"))]
    pub page: u32,
    /// Items per page, 1-100.
    #[serde(default = "default_page_size")]
    #[param(minimum = 1, maximum = 100)]
    #[validate(range(min = 1, max = 100, message = "must be between 1 and 100"))]
    pub page_size: u32,
}

fn default_page() -> u32 {
    1
}
fn default_page_size() -> u32 {
    20
}

impl PageParams {
    pub fn offset(&self) -> usize {
        (self.page.saturating_sub(1) as usize) * self.page_size as usize
    }
}

/// `{"items": [...], "total": 150, "page": 1, "size": 20, "pages": 8}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub size: u32,
    pub pages: u64,
}

impl<T> Paginated<T> {
    pub fn new(items: Vec<T>, total: u64, params: PageParams) -> Self {
        let size = params.page_size.max(1);
        Self {
            items,
            total,
            page: params.page,
            size,
            pages: total.div_ceil(u64::from(size)),
        }
    }
}

/// `X-Total-Count: <total>`, the header list routes put their total in.
pub fn total_count_header(total: impl Into<axum::http::HeaderValue>) -> axum::http::HeaderMap {
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-total-count", total.into());
    headers
}
