//! Lambda entry point of the `personalization` function: everything else is in the library.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda::serve(personalization::router).await
}
