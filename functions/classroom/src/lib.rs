//! `functions/classroom`: the education platform's ML API (spec 003).
//!
//! Spec routes, at the API root exactly as spec 003 shows them (no other function serves `/`,
//! `/classify`, `/clusters*`, `/recommend/*`, `/user/*` or `/users/*`, so no prefix is needed):
//! - `GET /`: status and welcome message.
//! - `POST /classify`: theme and priority challenge (`defi`) of Markdown content, with the
//!   model's confidence for each ([`classifier`]: TF-IDF + multinomial logistic regression).
//! - `GET /clusters`: name, count and feature profile of the four behavioural clusters.
//! - `POST /clusters/recompute` (admin): the full clustering pipeline
//!   ([`shared::domain::teachers::recompute`]); also the `user-clusters` job of `functions/jobs`.
//! - `GET /recommend/{cluster_id}`: the content strategy of a cluster.
//! - `GET /user/{user_id}/profile`: profile, activity, cluster and its recommendations.
//!
//! Admin routes this function adds (permission `system.admin`):
//! - `POST /classify/examples`: add labelled examples, retrain, publish the new model.
//! - `POST /users/import`: import profiles and activity (CSV or JSON lines), all or nothing.
//! - `POST /user/{user_id}/activity`: add to a user's activity counts (atomic).
//!
//! Module map: [`models`] (bodies, cluster strategies), `handlers`, [`classifier`] (features,
//! training, prediction), [`model_store`] (examples, artifact, the instance's model cache),
//! [`import`] (CSV / JSON lines validation).

pub mod classifier;
mod handlers;
pub mod import;
pub mod model_store;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use utoipa_axum::{router::OpenApiRouter, routes};

use model_store::ModelCache;

pub use handlers::{ADMIN_PERMISSION, MAX_CONTENT_BYTES, recompute_error};

/// The classroom function's state: the shared dependencies and its own classifier cache.
#[derive(Clone, FromRef)]
pub struct ClassroomState {
    pub app: AppState,
    /// The classifier in force on this instance (see [`model_store`]).
    pub models: Arc<ModelCache>,
}

impl ClassroomState {
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            models: Arc::default(),
        }
    }
}

/// The routes with their OpenAPI operations, before the state is applied.
fn api() -> OpenApiRouter<ClassroomState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::health))
        .routes(routes!(handlers::classify))
        .routes(routes!(handlers::add_examples))
        .routes(routes!(handlers::clusters))
        .routes(routes!(handlers::recompute))
        .routes(routes!(handlers::recommend))
        .routes(routes!(handlers::profile))
        .routes(routes!(handlers::import_users))
        .routes(routes!(handlers::record_activity))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(ClassroomState::new(state))
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
mod accuracy_tests;
#[cfg(test)]
mod tests;
