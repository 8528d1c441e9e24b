//! `functions/catalog`: products and categories for shoppers (`/api/v1/products/*`, spec 002):
//! the filtered, sorted, paged list; a product's detail (recording the view); similar products by
//! embedding; frequently bought together; the category tree.

mod handlers;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::{AppState, domain::catalog::snapshot::SnapshotCache};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The catalog function's state: the shared dependencies and its own catalog snapshot.
#[derive(Clone, FromRef)]
pub struct CatalogState {
    pub app: AppState,
    /// This instance's catalog snapshot, reloaded when the catalog changes.
    pub snapshot: Arc<SnapshotCache>,
}

impl CatalogState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            snapshot: Arc::new(SnapshotCache::default()),
        }
    }
}

/// The routes with their OpenAPI operations, before the state is applied.
fn api() -> OpenApiRouter<CatalogState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_products))
        .routes(routes!(handlers::list_categories))
        .routes(routes!(handlers::get_product))
        .routes(routes!(handlers::similar_products))
        .routes(routes!(handlers::frequently_bought_together))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(CatalogState::new(state))
}

/// The function's OpenAPI operations (no state needed).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
