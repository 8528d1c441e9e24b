//! `functions/orders`: the caller's orders (`/api/v1/orders/*`, spec 002): place an order from the
//! cart in one transaction (stock, order, cart; `Idempotency-Key` makes retries safe), list, and
//! detail (the owner, or a user allowed to see all orders).

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes with their OpenAPI operations, before the state is applied. This function has no
/// state of its own: its handlers take the shared [`AppState`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create_order, handlers::list_orders))
        .routes(routes!(handlers::get_order))
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
