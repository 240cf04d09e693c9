//! Lambda entry point of `gdpr-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart_http::lambda::serve(rampart_http::lambda::Clients::NO_MAIL, gdpr_api::router).await
}
