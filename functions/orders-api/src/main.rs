//! Lambda entry point of `orders-api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    rampart::lambda::serve(orders_api::router).await
}
