//! Lambda entry point of `webhooks-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::NO_MAIL).await?;
    webhooks_api::check_production(&state)?;
    rampart_http::lambda::run(webhooks_api::router(state)).await
}
