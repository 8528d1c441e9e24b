//! `functions/users`: the caller's profile, username, address, preferences and recently viewed
//! products
//! (`/api/v1/users/*`, spec 002).

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes with their OpenAPI operations, before the state is applied. This function has no
/// state of its own: its handlers take the shared [`AppState`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::get_profile, handlers::update_profile))
        .routes(routes!(handlers::update_username))
        .routes(routes!(handlers::update_address))
        .routes(routes!(
            handlers::get_preferences,
            handlers::update_preferences
        ))
        .routes(routes!(handlers::list_viewed, handlers::clear_viewed))
        .routes(routes!(handlers::add_viewed))
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
