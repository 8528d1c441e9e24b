//! `functions/search`: product search (`/api/v1/search/*`, spec 002): text relevance blended with
//! vector similarity, filters, sorts, pages, suggestions, and click tracking on logged searches.

mod handlers;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::{AppState, domain::catalog::snapshot::SnapshotCache};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The search function's state: the shared dependencies and its own catalog snapshot (the
/// search index is built on it).
#[derive(Clone, FromRef)]
pub struct SearchState {
    pub app: AppState,
    /// This instance's catalog snapshot, reloaded when the catalog changes.
    pub snapshot: Arc<SnapshotCache>,
}

impl SearchState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            snapshot: Arc::new(SnapshotCache::default()),
        }
    }
}

/// The routes with their OpenAPI operations, before the state is applied.
fn api() -> OpenApiRouter<SearchState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::search))
        .routes(routes!(handlers::suggestions))
        .routes(routes!(handlers::track_click))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(SearchState::new(state))
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
