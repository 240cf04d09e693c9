//! Lambda entry point of `auth-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let state = rampart_http::lambda::startup(rampart_http::lambda::Clients::ALL)
        .await?
        .with_registry(auth_api::registry());
    auth_api::check_production(&state)?;
    rampart_http::lambda::run(auth_api::router(state)).await
}
