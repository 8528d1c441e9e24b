//! `functions/videos`: shoppable videos (spec 004) at `/api/v1/shoppable-videos/`.
//!
//! - `GET /`: the personalised feed (profile, candidates, score, rank; see
//!   [`shared::domain::videos::feed`]), cursor in `X-Next-Cursor`.
//! - `POST /`: upload. A JSON body creates the video and returns a signed upload URL (files up
//!   to 50 MB go straight to the blob store, then are verified); a multipart form (`file`,
//!   `product_id`, `title`, `tags`) uploads a small file in the request.
//! - `GET|PATCH|DELETE /{id}`: read, change (uploader or admin), delete with its file.
//! - `POST /{id}/like/`, `/{id}/save_video/`: atomic per-user toggles with their counters.
//! - `POST /{id}/share/`, `/{id}/view/`: atomic counters.
//!
//! Trailing slashes are optional (the spec writes them). Verification of signed uploads runs on
//! the S3 object-created event in `functions/jobs`, and on upload completion locally.

mod handlers;
pub mod models;
mod upload;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::{AppState, domain::catalog::snapshot::SnapshotCache};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use handlers::{MODERATE_PERMISSION, NEXT_CURSOR};
pub use upload::MULTIPART_MAX_BYTES;

/// The videos function's state: the shared dependencies and its own catalog snapshot (the feed
/// ranks products from it).
#[derive(Clone, FromRef)]
pub struct VideosState {
    pub app: AppState,
    /// This instance's catalog snapshot, reloaded when the catalog changes.
    pub snapshot: Arc<SnapshotCache>,
}

impl VideosState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            snapshot: Arc::new(SnapshotCache::default()),
        }
    }
}

/// The routes with their OpenAPI operations, before the state is applied.
fn api() -> OpenApiRouter<VideosState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::feed, handlers::upload))
        .routes(routes!(
            handlers::get_video,
            handlers::update_video,
            handlers::delete_video
        ))
        .routes(routes!(handlers::like))
        .routes(routes!(handlers::save_video))
        .routes(routes!(handlers::share))
        .routes(routes!(handlers::view))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(VideosState::new(state))
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
