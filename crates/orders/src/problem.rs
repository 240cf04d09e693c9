//! The shop's errors: every `ApiError`, plus the problems a client of the shop switches on,
//! each with its own stable RFC 9457 `type` (`urn:rampart:problem:order-not-paid`, ...).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use rampart_platform::error::{ApiError, PROBLEM_JSON, Problem};
use rampart_store::{StoreError, TxError};

#[derive(Debug)]
pub enum OrderError {
    Api(ApiError),
    Coded {
        status: StatusCode,
        /// The last segment of the problem `type`.
        code: &'static str,
        detail: String,
        retry_after_secs: Option<u64>,
    },
}

fn coded(status: StatusCode, code: &'static str, detail: impl Into<String>) -> OrderError {
    OrderError::Coded {
        status,
        code,
        detail: detail.into(),
        retry_after_secs: None,
    }
}

impl OrderError {
    pub fn order_not_paid() -> Self {
        coded(
            StatusCode::CONFLICT,
            "order-not-paid",
            "The order of this eSIM is not paid yet.",
        )
    }

    pub fn order_refunded() -> Self {
        coded(
            StatusCode::CONFLICT,
            "order-refunded",
            "The order of this eSIM was refunded; the profile is not activated (an activated one is \
             being revoked).",
        )
    }

    pub fn order_not_payable(status: &str) -> Self {
        coded(
            StatusCode::CONFLICT,
            "order-not-payable",
            format!("The order is {status}; only a CREATED order can be paid."),
        )
    }

    pub fn order_payable_window_over() -> Self {
        coded(
            StatusCode::CONFLICT,
            "order-not-payable",
            "The order can no longer be paid: its 24-hour payment window has ended; order again.",
        )
    }

    pub fn payment_in_progress() -> Self {
        coded(
            StatusCode::CONFLICT,
            "conflict",
            "A payment for this order is being created; retry shortly.",
        )
    }

    pub fn owner_exempt() -> Self {
        coded(
            StatusCode::FORBIDDEN,
            "owner-exempt",
            "Owner and test accounts are never charged.",
        )
    }

    pub fn provider_unavailable(retry_after_secs: u64) -> Self {
        OrderError::Coded {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "payment-provider-unavailable",
            detail: "The payment provider did not answer; nothing was charged. Retry later.".into(),
            retry_after_secs: Some(retry_after_secs.max(1)),
        }
    }

    pub fn provider_refused() -> Self {
        coded(
            StatusCode::BAD_GATEWAY,
            "payment-provider-error",
            "The payment provider refused the request.",
        )
    }

    pub fn not_found(what: &str) -> Self {
        OrderError::Api(ApiError::NotFound(format!("No such {what}.")))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OrderError::Api(e) => e.status(),
            OrderError::Coded { status, .. } => *status,
        }
    }
}

impl From<ApiError> for OrderError {
    fn from(e: ApiError) -> Self {
        OrderError::Api(e)
    }
}

impl From<StoreError> for OrderError {
    fn from(e: StoreError) -> Self {
        OrderError::Api(e.into())
    }
}

impl<P: std::fmt::Debug> From<TxError<P>> for OrderError {
    fn from(e: TxError<P>) -> Self {
        OrderError::Api(e.into())
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        match self {
            OrderError::Api(e) => e.into_response(),
            OrderError::Coded {
                status,
                code,
                detail,
                retry_after_secs,
            } => {
                let problem = Problem {
                    type_: format!("urn:rampart:problem:{code}"),
                    title: status.canonical_reason().unwrap_or("Error").to_string(),
                    status: status.as_u16(),
                    detail: Some(detail),
                    errors: None,
                };
                let mut resp =
                    (status, serde_json::to_vec(&problem).unwrap_or_default()).into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
                if let Some(s) = retry_after_secs {
                    resp.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(s));
                }
                resp
            }
        }
    }
}
