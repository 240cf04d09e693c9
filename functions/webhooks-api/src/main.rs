//! Lambda entry point of `webhooks-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(webhooks_api::router).await
}
