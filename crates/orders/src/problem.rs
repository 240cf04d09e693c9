//! The problems a client of the shop switches on, each with its own stable RFC 9457 `type`
//! (`urn:rampart:problem:order-not-paid`, ...). They are `ApiError::Coded`, the one coded
//! problem every domain uses, so the shop's handlers answer `ApiError` like every other route.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};

use rampart_platform::error::ApiError;

fn coded(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::coded(status, code, detail)
}

pub fn order_not_paid() -> ApiError {
    coded(
        StatusCode::CONFLICT,
        "order-not-paid",
        "The order of this eSIM is not paid yet.",
    )
}

pub fn order_refunded() -> ApiError {
    coded(
        StatusCode::CONFLICT,
        "order-refunded",
        "The order of this eSIM was refunded; the profile is not activated (an activated one is \
         being revoked).",
    )
}

pub fn order_not_payable(status: &str) -> ApiError {
    coded(
        StatusCode::CONFLICT,
        "order-not-payable",
        format!("The order is {status}; only a CREATED order can be paid."),
    )
}

pub fn order_payable_window_over() -> ApiError {
    coded(
        StatusCode::CONFLICT,
        "order-not-payable",
        "The order can no longer be paid: its 24-hour payment window has ended; order again.",
    )
}

pub fn payment_in_progress() -> ApiError {
    coded(
        StatusCode::CONFLICT,
        "conflict",
        "A payment for this order is being created; retry shortly.",
    )
}

pub fn owner_exempt() -> ApiError {
    coded(
        StatusCode::FORBIDDEN,
        "owner-exempt",
        "Owner and test accounts are never charged.",
    )
}

pub fn provider_unavailable(retry_after_secs: u64) -> ApiError {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    coded(
        StatusCode::SERVICE_UNAVAILABLE,
        "payment-provider-unavailable",
        "The payment provider did not answer; nothing was charged. Retry later.",
    )
    .with_headers(headers)
}

pub fn provider_refused() -> ApiError {
    coded(
        StatusCode::BAD_GATEWAY,
        "payment-provider-error",
        "The payment provider refused the request.",
    )
}

pub fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!("No such {what}."))
}
