//! The return pages Stripe Checkout sends a user back to when no `CHECKOUT_SUCCESS_URL` or
//! `CHECKOUT_CANCEL_URL` is set (outside production only: production refuses to start without
//! the app's own https pages). Two small static pages, so a local checkout never ends on a 404;
//! they state what happens next and hold nothing of the user's.

use axum::http::header;
use axum::response::{IntoResponse, Response};

fn page(title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// `GET /billing/checkout/success`.
pub async fn success() -> Response {
    page(
        "Payment received",
        "Thank you. Your plan changes as soon as Stripe confirms the subscription, usually \
         within seconds: GET /billing/subscription shows it. You can close this page.",
    )
}

/// `GET /billing/checkout/canceled`.
pub async fn canceled() -> Response {
    page(
        "Checkout canceled",
        "Nothing was charged. You can start again whenever you like.",
    )
}
