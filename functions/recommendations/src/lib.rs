//! `functions/recommendations`: the shopper routes of spec 002's "AI-Powered Recommendations"
//! under `/api/v1/recommendations/`.

pub mod tracking;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::explanations::Explainer;
use shared::domain::ml_models::ModelCache;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The function's state: the shared dependencies and this instance's models in memory.
#[derive(Clone, FromRef)]
pub struct RecommendationsState {
    pub app: AppState,
    pub models: Arc<ModelCache>,
    pub explainer: Arc<Explainer>,
}

impl RecommendationsState {
    pub fn new(app: AppState) -> Self {
        Self {
            explainer: Explainer::new(&app),
            app,
            models: Arc::new(ModelCache::default()),
        }
    }
}

fn api() -> OpenApiRouter<RecommendationsState> {
    OpenApiRouter::new()
        .routes(routes!(tracking::track_click))
        .routes(routes!(tracking::feedback))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(RecommendationsState::new(state))
}

/// The routes with a given state (tests).
pub fn routes_with(state: RecommendationsState) -> OpenApiRouter {
    api().with_state(state)
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
mod tracking_tests;
