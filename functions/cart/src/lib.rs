//! `functions/cart`: shopping carts (`/api/v1/cart/*`, spec 002) for signed-in users (bearer token)
//! and guests (a cart id returned in, and sent back with, the `X-Cart-Id` header). A guest cart
//! merges into the user's cart when the guest logs in with that header (see `functions/auth`).

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes with their OpenAPI operations, before the state is applied. This function has no
/// state of its own: its handlers take the shared [`AppState`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::add_item))
        .routes(routes!(handlers::get_cart))
        .routes(routes!(handlers::update_item))
        .routes(routes!(handlers::clear_cart))
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
