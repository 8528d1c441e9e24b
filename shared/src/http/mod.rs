//! HTTP building blocks shared by every function router: extractors that turn bad input into
//! [`ApiError`](crate::ApiError)s, and the middleware stack every router is served with.

pub mod auth;
pub mod client_addr;
pub mod extract;
pub mod layers;
pub mod pagination;

pub use auth::AuthUser;
pub use client_addr::ClientAddr;
pub use extract::{JsonOrForm, ValidJson, ValidQuery};
pub use layers::{RequestId, service};
pub use pagination::PageParams;
