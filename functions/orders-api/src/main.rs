//! Lambda entry point of `orders-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart_http::lambda::serve(rampart_http::lambda::Clients::NO_MAIL, orders_api::router).await
}
