//! Lambda entry point of `auth-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(auth_api::router).await
}
