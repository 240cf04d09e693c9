//! Lambda entry point of `billing-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::ALL).await?;
    billing_api::check_production(&state)?;
    rampart_http::lambda::run(billing_api::router(state)).await
}
