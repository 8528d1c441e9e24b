//! Lambda entry point of the `jobs` function: state from the environment once, then each
//! EventBridge event runs one job or verifies one uploaded video.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::{AppState, config::Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let state = AppState::from_config(Config::from_env()?).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { Ok::<Value, lambda_runtime::Error>(jobs::handle(&state, event.payload).await?) }
    }))
    .await
}
