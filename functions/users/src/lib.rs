//! `functions/users`: the caller's profile, username, address, preferences and recently viewed
//! products
//! (`/api/v1/users/*`, spec 002).

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
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

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
