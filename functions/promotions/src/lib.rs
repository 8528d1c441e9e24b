//! `functions/promotions`: spec 002 "Personalized Promotion Management" under
//! `/api/v1/recommendations/`, on Bedrock (text: Converse; images: a Bedrock image model; model
//! ids in the configuration) or the local backends:
//! - `POST /generate-promotion` (`system.ml_models`): promotional text for an RFM cluster;
//! - `POST /generate-banner` (`system.ml_models`): a PNG banner in the media bucket under
//!   `banners/`;
//! - `GET /banner/{banner_id}` (`system.ml_models`): the banner with targeting, schedule and its
//!   impressions and clicks per day;
//! - `POST /publish-banner`, `POST /banner/{banner_id}/unpublish` (`system.ml_models`);
//! - `POST /personalized-promotion` (`system.ml_models`; form data or JSON): a user's segment,
//!   text and banner in one call;
//! - `GET /user-banners/{user_id}?limit=1-10` (the user, or `analytics.view` beyond own data):
//!   the live banners whose targeting matches the user, from this instance's cache;
//! - `POST /banner/{banner_id}/click` (bearer token optional): counts a click.
//!
//! The work is in [`shared::domain::promotions`].

mod form;
mod handlers;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::promotions::cache::LiveBannerCache;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The function's state: the shared dependencies and this instance's published banners.
#[derive(Clone, FromRef)]
pub struct PromotionsState {
    pub app: AppState,
    pub banners: Arc<LiveBannerCache>,
}

impl PromotionsState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            banners: Arc::new(LiveBannerCache::default()),
        }
    }
}

fn api() -> OpenApiRouter<PromotionsState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::generate_promotion))
        .routes(routes!(handlers::generate_banner))
        .routes(routes!(handlers::get_banner))
        .routes(routes!(handlers::publish_banner))
        .routes(routes!(handlers::unpublish_banner))
        .routes(routes!(handlers::personalized_promotion))
        .routes(routes!(handlers::user_banners))
        .routes(routes!(handlers::banner_click))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(PromotionsState::new(state))
}

/// The routes with a given state (tests, benchmarks).
pub fn routes_with(state: PromotionsState) -> OpenApiRouter {
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

/// The router with a given state.
pub fn router_with(state: PromotionsState) -> Router {
    routes_with(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
