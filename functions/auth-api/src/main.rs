//! Lambda entry point of `auth-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart::lambda::startup(rampart::lambda::Clients::ALL).await?;
    auth_api::check_production(&state)?;
    rampart::lambda::run(auth_api::router(state)).await
}
