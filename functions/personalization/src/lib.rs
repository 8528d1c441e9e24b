//! `functions/personalization`: the personalization engine of spec 000.
//! - `GET /api/analytics/personalization/user/{user_id}/segments`: the user's segments (age
//!   group, activity level, `multi_interest`, and their spec 002 segments);
//! - `GET /api/analytics/personalization/segment/{segment_id}/recommendations?limit=`: the
//!   content that performs best in the segment against everyone, with `score`;
//! - `GET /api/analytics/personalization/content/{content_id}?days=`: engagement of one product
//!   or shoppable video per segment;
//! - `GET /api/analytics/personalization/user/{user_id}/content?limit=`: the user's personalised
//!   content, the 40/30/20/10 blend with each source's contribution;
//! - `POST /api/personalization/refresh/{user_id}`: recomputes the user's segments and content.
//!
//! Every answer is `{"data": ...}`. The user routes are for that user or a holder of
//! `analytics.view` beyond their own data (spec 002 grants customers `analytics.view` "own data
//! only": managers and admins); the segment route for a member of the segment or such a holder;
//! content performance (cross-user figures) for such holders. The work is in
//! [`shared::domain::personalization`]; caching in its `cache` module (`Cache-Control:
//! no-cache` recomputes an answer).

mod handlers;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::ml_models::ModelCache;
use shared::domain::personalization::{cache::MemoryCache, closed_days::ClosedDays};
use shared::domain::recommendations::Serving;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The function's state: the shared dependencies, this instance's models and catalog snapshot,
/// its memory layer of the spec 000 caches, and its memo of closed days' rollups.
#[derive(Clone, FromRef)]
pub struct PersonalizationState {
    pub app: AppState,
    pub models: Arc<ModelCache>,
    pub serving: Arc<Serving>,
    pub memory: Arc<MemoryCache>,
    pub closed: Arc<ClosedDays>,
}

impl PersonalizationState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            models: Arc::new(ModelCache::default()),
            serving: Arc::new(Serving::default()),
            memory: Arc::new(MemoryCache::default()),
            closed: Arc::new(ClosedDays::default()),
        }
    }
}

fn api() -> OpenApiRouter<PersonalizationState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::user_segments))
        .routes(routes!(handlers::segment_recommendations))
        .routes(routes!(handlers::content_performance))
        .routes(routes!(handlers::personalized_content))
        .routes(routes!(handlers::refresh))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(PersonalizationState::new(state))
}

/// The routes with a given state (tests).
pub fn routes_with(state: PersonalizationState) -> OpenApiRouter {
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
