//! `functions/recommendations`: the shopper routes of spec 002's "AI-Powered Recommendations"
//! under `/api/v1/recommendations/`:
//! - `GET /user?recommendation_type=homepage|product_page|cart|checkout&limit=`: the caller's
//!   list (a guest's through its cart id `X-Cart-Id`; anonymous: trending and popular);
//! - `GET /product/{product_id}`, `/fbt/{product_id}`, `/popular`, `/trending`, `/new-arrivals`;
//! - `GET /recommendations/{user_id}`: that user's list (the user or `users.view`).
//!
//! Every response has an `X-Recommendation-Id` header, and the id as a field on each item of an
//! array or at the top of an object. Lists come from the models in memory
//! ([`shared::domain::recommendations`]).

mod handlers;
pub mod models;

pub mod tracking;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::experiments::{self, RunningCache};
use shared::domain::explanations::Explainer;
use shared::domain::ml_models::ModelCache;
use shared::domain::recommendations::Serving;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use handlers::RECOMMENDATION_ID_HEADER;

/// The function's state: the shared dependencies and this instance's models in memory.
#[derive(Clone, FromRef)]
pub struct RecommendationsState {
    pub app: AppState,
    pub models: Arc<ModelCache>,
    pub explainer: Arc<Explainer>,
    /// This instance's catalog snapshot and the configs in force.
    pub serving: Arc<Serving>,
    /// This instance's view of the running A/B experiments (re-read every 5 s).
    pub experiments: Arc<RunningCache>,
}

impl RecommendationsState {
    pub fn new(app: AppState) -> Self {
        Self {
            explainer: Explainer::new(&app),
            app,
            models: Arc::new(ModelCache::default()),
            serving: Arc::new(Serving::default()),
            experiments: Arc::new(RunningCache::new(experiments::CACHE_TTL)),
        }
    }
}

fn api() -> OpenApiRouter<RecommendationsState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::user_recommendations))
        .routes(routes!(handlers::product_recommendations))
        .routes(routes!(handlers::fbt_recommendations))
        .routes(routes!(handlers::popular))
        .routes(routes!(handlers::trending))
        .routes(routes!(handlers::new_arrivals))
        .routes(routes!(handlers::personalized))
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
mod tests;
#[cfg(test)]
mod tracking_tests;
