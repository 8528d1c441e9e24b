//! `functions/textbook`: textbook personalization by reading level (spec 001,
//! `/api/personalization/*`).
//!
//! - `POST /api/personalization/personalize`: adapt a chapter (Markdown) to `beginner`,
//!   `intermediate` or `advanced`, opening (or replacing) a session.
//! - `POST /api/personalization/change-difficulty`: another level for a session; the reading
//!   position moves to the same section and paragraph of the new text.
//! - `POST /api/personalization/toggle-original`: the original chapter.
//! - `DELETE /api/personalization/session/{session_id}`.
//!
//! Module map: [`models`] (bodies), `handlers`, [`sessions`] (sessions in the store, sliding
//! expiry), [`keys`] (key patterns), [`cache`] (adaptations shared across sessions), [`adapt`]
//! (model adapter with versioned prompts and chunking, offline adapter), [`position`],
//! [`readability`], [`markdown`] (structure via pulldown-cmark), [`settings`].

pub mod adapt;
pub mod cache;
mod errors;
mod handlers;
pub mod keys;
pub mod markdown;
pub mod models;
pub mod position;
pub mod readability;
pub mod sessions;
pub mod settings;

use std::sync::Arc;

use axum::{Extension, Router};
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use settings::Settings;

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::personalize))
        .routes(routes!(handlers::change_difficulty))
        .routes(routes!(handlers::toggle_original))
        .routes(routes!(handlers::delete_session))
}

/// The function's router (state applied). Settings come from the environment, read once.
pub fn router(state: AppState) -> Router {
    // Read (and log) the settings at cold start rather than on the first request.
    tracing::debug!(settings = ?Settings::global(), "textbook settings");
    routes().with_state(state).split_for_parts().0
}

/// The router with explicit settings (tests, benchmarks).
pub fn router_with_settings(state: AppState, settings: Settings) -> Router {
    router(state).layer(Extension(Arc::new(settings)))
}

#[cfg(test)]
mod sample_tests;
#[cfg(test)]
mod tests;
