//! HTTP building blocks shared by every function router: extractors that turn bad input into
//! [`ApiError`](crate::ApiError)s, the middleware stack every router is served with, and the
//! server of the local blob store's signed URLs.

pub mod auth;
pub mod blob_urls;
pub mod client_addr;
pub mod extract;
pub mod fields;
pub mod layers;
pub mod pagination;

pub use auth::AuthUser;
pub use client_addr::ClientAddr;
pub use extract::{JsonOrForm, ValidJson, ValidQuery};
pub use layers::{RequestId, service};
pub use pagination::PageParams;
