//! Lambda entry point of `billing-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart::lambda::startup(rampart::lambda::Clients::ALL).await?;
    billing_api::check_production(&state)?;
    rampart::lambda::run(billing_api::router(state)).await
}
