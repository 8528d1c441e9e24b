//! `functions/ml-models`: ML model management (spec 002, "ML Model Management"), permission
//! `system.ml_models`, under `/api/v1/admin/ml-models/ml-config/`:
//! - `GET /`: every config with the metrics of its latest completed training run.
//! - `POST /`: a new (inactive) config; parameters validated per `model_type`.
//! - `PUT /{config_id}`: name, description, parameters (merged into the stored ones).
//! - `POST /{config_id}/activate`: the config becomes its type's only active one.
//! - `GET /{config_id}/performance`: metrics and history from the training runs.
//! - `POST /train`: starts the `reco-train` job in the background (202 at once; 409
//!   `TRAINING_IN_PROGRESS` while one runs).
//!
//! And the A/B experiments on those configs, under `/api/v1/admin/ml-models/experiments`
//! ([`experiments`]): create (409 `EXPERIMENT_RUNNING` when one runs on the type), list, one
//! with its results per arm, and `POST /{id}/stop` (optionally promoting the winner's config).
//!
//! The configs, runs, lock and the job itself are in [`shared::domain::ml_models`]; the job is
//! started through a [`TrainingLauncher`] (an asynchronous invocation of the jobs function in
//! the cloud, a tokio task locally).

pub mod experiments;
mod handlers;
pub mod models;

use std::sync::Arc;

use axum::{Router, extract::FromRef};
use shared::AppState;
use shared::domain::ml_models::launcher::{self, TrainingLauncher};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use handlers::PERMISSION;

/// The function's state: the shared dependencies, how trainings start, and whether this
/// instance has made sure the default configs exist.
#[derive(Clone, FromRef)]
pub struct MlModelsState {
    pub app: AppState,
    pub launcher: Arc<dyn TrainingLauncher>,
    pub defaults: Arc<tokio::sync::OnceCell<()>>,
}

impl MlModelsState {
    /// The launcher from the environment ([`launcher::from_env`]).
    pub fn new(app: AppState) -> Self {
        let launcher = launcher::from_env(app.store.clone(), app.blobs.clone());
        Self::with_launcher(app, launcher)
    }

    pub fn with_launcher(app: AppState, launcher: Arc<dyn TrainingLauncher>) -> Self {
        Self {
            app,
            launcher,
            defaults: Arc::default(),
        }
    }
}

fn api() -> OpenApiRouter<MlModelsState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list_configs, handlers::create_config))
        .routes(routes!(handlers::update_config))
        .routes(routes!(handlers::activate_config))
        .routes(routes!(handlers::performance))
        .routes(routes!(handlers::train))
        .routes(routes!(
            experiments::list_experiments,
            experiments::create_experiment
        ))
        .routes(routes!(experiments::get_experiment))
        .routes(routes!(experiments::stop_experiment))
}

/// The function's routes with its state applied (the local server merges these).
pub fn routes(state: AppState) -> OpenApiRouter {
    api().with_state(MlModelsState::new(state))
}

/// The routes with a given launcher (tests).
pub fn routes_with(state: MlModelsState) -> OpenApiRouter {
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

#[cfg(test)]
mod experiment_tests;
