//! `functions/search`: product search (`/api/v1/search/*`, spec 002): text relevance blended with
//! vector similarity, filters, sorts, pages, suggestions, and click tracking on logged searches.

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::search))
        .routes(routes!(handlers::suggestions))
        .routes(routes!(handlers::track_click))
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
