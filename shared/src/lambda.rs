//! The whole body of every HTTP function's `main`: logs, config, state, then the Lambda runtime.

use axum::Router;

use crate::{AppState, config::Config};

/// Builds the state from the environment once (per cold start) and serves `router` on Lambda.
pub async fn serve(router: fn(AppState) -> Router) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let state = AppState::from_config(config).await?;
    let service = crate::http::service(router(state.clone()), &state.config);
    lambda_http::run(service).await
}
