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

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use handlers::{MODERATE_PERMISSION, NEXT_CURSOR};
pub use upload::MULTIPART_MAX_BYTES;

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
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

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
