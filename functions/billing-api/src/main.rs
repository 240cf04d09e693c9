//! Lambda entry point of `billing-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(billing_api::router).await
}
