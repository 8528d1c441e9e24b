//! `functions/orders`: the caller's orders (`/api/v1/orders/*`, spec 002): place an order from the
//! cart in one transaction (stock, order, cart; `Idempotency-Key` makes retries safe), list, and
//! detail (the owner, or a user allowed to see all orders).

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create_order, handlers::list_orders))
        .routes(routes!(handlers::get_order))
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
