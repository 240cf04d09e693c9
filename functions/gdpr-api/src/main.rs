//! Lambda entry point of `gdpr-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(rampart::lambda::Clients::NO_MAIL, gdpr_api::router).await
}
