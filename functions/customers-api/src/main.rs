//! Lambda entry point of `customers-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::NO_MAIL).await?;
    customers_api::check_production(&state)?;
    // Licenses cannot be signed without their key: refuse to start rather than answer 503.
    rampart_billing::customers::license::check_production(&state).await?;
    rampart_http::lambda::run(customers_api::router(state)).await
}
