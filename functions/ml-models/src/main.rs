//! Lambda entry point of the `ml-models` function: everything else is in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve(ml_models::router).await
}
