//! `functions/admin`: user management, roles, system status and configuration, product,
//! category and order management (`/api/v1/admin/users/*`, `/api/v1/admin/roles`, `/api/v1/admin/system/*`,
//! `/api/v1/admin/products/*`, `/api/v1/admin/categories`, `/api/v1/admin/orders/*`, spec 002),
//! bulk import (`/api/v1/admin/import/{kind}`, body limit 6 MB), and recommendation performance
//! (`/api/v1/admin/analytics/recommendations/performance`).
//! Every route checks the permission the spec names (403 otherwise).

mod catalog_handlers;
pub mod catalog_models;
mod handlers;
pub mod import_handlers;
pub mod models;
mod order_handlers;
pub mod order_models;
pub mod reco_performance;
pub mod segment_performance;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes with their OpenAPI operations, before the state is applied. This function has no
/// state of its own: its handlers take the shared [`AppState`].
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_users, handlers::create_user))
        .routes(routes!(handlers::get_user, handlers::update_user))
        .routes(routes!(handlers::assign_role, handlers::remove_role))
        .routes(routes!(handlers::list_roles))
        .routes(routes!(handlers::system_status))
        .routes(routes!(handlers::system_config))
        .routes(routes!(catalog_handlers::create_product))
        .routes(routes!(catalog_handlers::update_product))
        .routes(routes!(catalog_handlers::create_category))
        .routes(routes!(order_handlers::list_orders))
        .routes(routes!(order_handlers::get_order))
        .routes(routes!(order_handlers::update_status))
        .routes(routes!(reco_performance::recommendation_performance))
        .routes(routes!(segment_performance::segment_performance))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import_handlers::import_file))
                .route_layer(import_handlers::body_limit()),
        )
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
mod catalog_tests;
#[cfg(test)]
mod import_tests;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod reco_performance_tests;
#[cfg(test)]
mod segment_performance_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod token_freshness_tests;
