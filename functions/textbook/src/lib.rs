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

use axum::{Router, extract::FromRef};
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

pub use settings::Settings;

/// The textbook function's state: the shared dependencies, its settings and the adapter the
/// configuration selects (built once with the state).
#[derive(Clone, FromRef)]
pub struct TextbookState {
    pub app: AppState,
    pub settings: Arc<Settings>,
    pub adapter: Arc<dyn adapt::Adapter>,
}

impl TextbookState {
    pub fn new(app: AppState, settings: Settings) -> Self {
        let adapter = adapt::for_state(&app, settings.model_limits());
        Self {
            app,
            settings: Arc::new(settings),
            adapter,
        }
    }
}

/// The routes with their OpenAPI operations, before the state is applied.
fn api() -> OpenApiRouter<TextbookState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::personalize))
        .routes(routes!(handlers::change_difficulty))
        .routes(routes!(handlers::toggle_original))
        .routes(routes!(handlers::delete_session))
}

/// The function's routes with its state applied (the local server merges these). The settings
/// are read from the environment here, once.
pub fn routes(state: AppState) -> OpenApiRouter {
    let settings = Settings::from_env();
    tracing::debug!(?settings, "textbook settings");
    api().with_state(TextbookState::new(state, settings))
}

/// The function's OpenAPI operations (no state needed).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The function's router (state applied), with settings from the environment.
pub fn router(state: AppState) -> Router {
    routes(state).split_for_parts().0
}

/// The router with explicit settings (tests, benchmarks).
pub fn router_with_settings(state: AppState, settings: Settings) -> Router {
    api()
        .with_state(TextbookState::new(state, settings))
        .split_for_parts()
        .0
}

#[cfg(test)]
mod sample_tests;
#[cfg(test)]
mod tests;
