//! `functions/admin`: user management, roles, system status and configuration, product and
//! category management (`/api/v1/admin/users/*`, `/api/v1/admin/roles`, `/api/v1/admin/system/*`,
//! `/api/v1/admin/products/*`, `/api/v1/admin/categories`, spec 002).
//! Every route checks the permission the spec names (403 otherwise).

mod catalog_handlers;
pub mod catalog_models;
mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
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
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod catalog_tests;
#[cfg(test)]
mod tests;
