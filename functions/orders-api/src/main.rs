//! Lambda entry point of `orders-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(rampart::lambda::Clients::NO_MAIL, orders_api::router).await
}
