//! Lambda entry point of `webhooks-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart::lambda::startup().await?;
    webhooks_api::check_production(&state)?;
    rampart::lambda::run(webhooks_api::router(state)).await
}
