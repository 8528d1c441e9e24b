//! `functions/catalog`: products and categories for shoppers (`/api/v1/products/*`, spec 002):
//! the filtered, sorted, paged list; a product's detail (recording the view); similar products by
//! embedding; frequently bought together; the category tree.

mod handlers;
pub mod models;

use axum::Router;
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes with their OpenAPI operations.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_products))
        .routes(routes!(handlers::list_categories))
        .routes(routes!(handlers::get_product))
        .routes(routes!(handlers::similar_products))
        .routes(routes!(handlers::frequently_bought_together))
}

/// The function's router (state applied).
pub fn router(state: AppState) -> Router {
    routes().with_state(state).split_for_parts().0
}

#[cfg(test)]
mod tests;
