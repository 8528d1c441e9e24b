//! Lambda entry point of the `promotions` function: everything else is in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve(promotions::router).await
}
