//! `functions/segments`: user segmentation (spec 002 "User Segmentation Management") under
//! `/api/v1/admin/user-segmentation/segments`, permissions `view_user_segmentation` (reads) and
//! `manage_user_segmentation` (writes):
//! - `GET /`, `POST /`, `PUT /{segment_id}`: segments with typed criteria per `segment_type`;
//! - `GET /analytics?segment_id=&days=`: member count, conversion rate, average order value;
//! - `POST /{segment_id}/recalculate`: membership recomputed now;
//! - `GET /{segment_id}/users?limit=&offset=`, `POST`/`DELETE /{segment_id}/users/{user_id}`;
//! - `POST /generate-rfm`: RFM k-means segments from the orders of a lookback window.
//!
//! Records, criteria, features kept on write and membership are in
//! [`shared::domain::segments`].

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_segments, handlers::create_segment))
        .routes(routes!(handlers::update_segment))
        .routes(routes!(handlers::analytics))
        .routes(routes!(handlers::recalculate))
        .routes(routes!(handlers::segment_users))
        .routes(routes!(handlers::add_user, handlers::remove_user))
        .routes(routes!(handlers::generate_rfm))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
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
