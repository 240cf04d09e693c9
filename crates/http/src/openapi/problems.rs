//! The problem responses routes list (RFC 9457 bodies with their `type` slugs): one row of
//! [`PROBLEMS`] and one type per response, which a route names in `responses(...)`.

use std::collections::BTreeMap;

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, RefOr};
use utoipa::{IntoResponses, PartialSchema};

use rampart_platform::error::{PROBLEM_JSON, Problem};

/// One problem response of the contract: its component name, status and the `type` slugs a
/// route may answer with it (`urn:rampart:problem:<slug>`).
pub struct ProblemDoc {
    pub name: &'static str,
    pub status: u16,
    pub slugs: &'static [&'static str],
    pub description: &'static str,
    /// Carries `Retry-After` (and on 429 `RateLimit-Policy`/`RateLimit`).
    pub retry_after: bool,
}

/// Every problem response a route may list (RFC 9457 bodies, `application/problem+json`).
pub const PROBLEMS: &[ProblemDoc] = &[
    ProblemDoc {
        name: "BadRequest",
        status: 400,
        slugs: &["bad-request"],
        description: "Malformed JSON (the detail gives line and column), or a malformed value \
                      the detail names.",
        retry_after: false,
    },
    ProblemDoc {
        name: "BadRequestOrKeyMissing",
        status: 400,
        slugs: &["bad-request", "idempotency-key-missing"],
        description: "Malformed request, or the `Idempotency-Key` header this route requires \
                      is missing.",
        retry_after: false,
    },
    ProblemDoc {
        name: "Unauthorized",
        status: 401,
        slugs: &["unauthorized"],
        description: "No valid credential: missing, malformed, expired or revoked (the same \
                      answer whatever the reason).",
        retry_after: false,
    },
    ProblemDoc {
        name: "SecondFactorRequired",
        status: 401,
        slugs: &["unauthorized", "second-factor-required"],
        description: "Wrong credentials (`unauthorized`), or the first factor was right and \
                      the account has a second one (`second-factor-required`): no session; the \
                      body carries `mfa_token` (valid `expires_in` seconds, 300) and `methods` \
                      for `POST /auth/2fa/verify`.",
        retry_after: false,
    },
    ProblemDoc {
        name: "Forbidden",
        status: 403,
        slugs: &["forbidden"],
        description: "Authenticated but refused: a cookie request without a matching \
                      `X-CSRF-Token` or from a foreign `Origin`, or a wrong current password.",
        retry_after: false,
    },
    ProblemDoc {
        name: "InsufficientScope",
        status: 403,
        slugs: &["insufficient-scope"],
        description: "The API key is valid but was not issued with the scope this route needs; \
                      the detail names it.",
        retry_after: false,
    },
    ProblemDoc {
        name: "OwnerExempt",
        status: 403,
        slugs: &["owner-exempt", "forbidden"],
        description: "Owner and test accounts are never charged (`owner-exempt`, before any \
                      provider call); `forbidden` for a refused cookie request.",
        retry_after: false,
    },
    ProblemDoc {
        name: "AccountSuspended",
        status: 403,
        slugs: &["account-suspended"],
        description: "The credential is right but an operator suspended the account: no \
                      session is issued until it is reinstated.",
        retry_after: false,
    },
    ProblemDoc {
        name: "NotFound",
        status: 404,
        slugs: &["not-found"],
        description: "No such resource (another user's is not found either).",
        retry_after: false,
    },
    ProblemDoc {
        name: "Conflict",
        status: 409,
        slugs: &["conflict"],
        description: "The resource's state does not allow this, or a request with the same \
                      `Idempotency-Key` is still running.",
        retry_after: false,
    },
    ProblemDoc {
        name: "OrderConflict",
        status: 409,
        slugs: &[
            "conflict",
            "order-not-payable",
            "order-not-paid",
            "order-refunded",
        ],
        description: "The order's state does not allow this (`order-not-payable`: not \
                      CREATED, or its payment window ended; `order-not-paid`; \
                      `order-refunded`: its eSIM is not activated, or is being revoked), or the \
                      same key is still running.",
        retry_after: false,
    },
    ProblemDoc {
        name: "PayloadTooLarge",
        status: 413,
        slugs: &["payload-too-large"],
        description: "The body is over this route's limit.",
        retry_after: false,
    },
    ProblemDoc {
        name: "UnsupportedMediaType",
        status: 415,
        slugs: &["unsupported-media-type"],
        description: "The body is not `application/json`.",
        retry_after: false,
    },
    ProblemDoc {
        name: "Unprocessable",
        status: 422,
        slugs: &["unprocessable"],
        description: "The body or a parameter has the wrong shape or an invalid value; \
                      `errors[].pointer` names each member.",
        retry_after: false,
    },
    ProblemDoc {
        name: "RateLimited",
        status: 429,
        slugs: &["rate-limited"],
        description: "Too many requests: retry after `Retry-After` seconds.",
        retry_after: true,
    },
    ProblemDoc {
        name: "QuotaExceeded",
        status: 429,
        slugs: &["rate-limited", "quota-exceeded"],
        description: "The route's own limit (`rate-limited`) or the tier's daily quota \
                      (`quota-exceeded`, until the next UTC midnight).",
        retry_after: true,
    },
    ProblemDoc {
        name: "BadGateway",
        status: 502,
        slugs: &["payment-provider-error"],
        description: "The payment provider refused the request.",
        retry_after: false,
    },
    ProblemDoc {
        name: "OAuthRefused",
        status: 400,
        slugs: &["oauth-state-invalid", "oauth-denied", "bad-request"],
        description: "The provider's answer does not belong to a sign-in this browser started                       (`oauth-state-invalid`: no or another browser's flow cookie, a forged,                       expired or already used `state`), the person declined at the provider                       (`oauth-denied`), or a malformed parameter (`bad-request`).",
        retry_after: false,
    },
    ProblemDoc {
        name: "OAuthUnauthorized",
        status: 401,
        slugs: &[
            "oauth-token-invalid",
            "second-factor-required",
            "unauthorized",
        ],
        description: "The provider's answer could not be verified (`oauth-token-invalid`: an ID                       token with a wrong issuer, audience, nonce, expiry, key or signature, or a                       code the provider refused), or the account has a second factor                       (`second-factor-required`, with `mfa_token` for `POST /auth/2fa/verify`).",
        retry_after: false,
    },
    ProblemDoc {
        name: "OAuthForbidden",
        status: 403,
        slugs: &["oauth-email-unverified", "account-suspended"],
        description: "The provider confirmed no email address (`oauth-email-unverified`), or                       the account is suspended (`account-suspended`).",
        retry_after: false,
    },
    ProblemDoc {
        name: "IdentityProviderError",
        status: 502,
        slugs: &["identity-provider-error"],
        description: "The sign-in provider could not be reached or answered nonsense.",
        retry_after: false,
    },
    ProblemDoc {
        name: "Unavailable",
        status: 503,
        slugs: &["unavailable"],
        description: "A dependency is unavailable or a write lost a race twice; retry after \
                      `Retry-After` seconds.",
        retry_after: true,
    },
    ProblemDoc {
        name: "PaymentUnavailable",
        status: 503,
        slugs: &["unavailable", "payment-provider-unavailable"],
        description: "The payment provider did not answer (nothing was charged) or a \
                      dependency is unavailable; retry after `Retry-After` seconds.",
        retry_after: true,
    },
];

macro_rules! problem_responses {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("The `", stringify!($name), "` problem response (see [`PROBLEMS`]).")]
        pub struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                reference(stringify!($name))
            }
        }
    )*};
}

problem_responses!(
    BadRequest,
    BadRequestOrKeyMissing,
    Unauthorized,
    SecondFactorRequired,
    Forbidden,
    InsufficientScope,
    OwnerExempt,
    AccountSuspended,
    NotFound,
    Conflict,
    OrderConflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    RateLimited,
    QuotaExceeded,
    BadGateway,
    Unavailable,
    PaymentUnavailable,
    OAuthRefused,
    OAuthUnauthorized,
    OAuthForbidden,
    IdentityProviderError,
);

pub(super) fn problem_doc(name: &str) -> &'static ProblemDoc {
    PROBLEMS
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no problem response {name} in PROBLEMS"))
}

fn reference(name: &str) -> BTreeMap<String, RefOr<Response>> {
    let doc = problem_doc(name);
    let r = Ref::from_response_name(name);
    BTreeMap::from([(doc.status.to_string(), RefOr::Ref(r))])
}

fn header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(Some(String::schema()))
        .description(Some(description))
        .build()
}

pub(super) fn problem_component(doc: &ProblemDoc) -> Response {
    let slugs: Vec<String> = doc
        .slugs
        .iter()
        .map(|s| format!("`urn:rampart:problem:{s}`"))
        .collect();
    let mut content = ContentBuilder::new().schema(Some(Problem::schema()));
    let first = doc.slugs[0];
    content = content.example(Some(serde_json::json!({
        "type": format!("urn:rampart:problem:{first}"),
        "title": axum::http::StatusCode::from_u16(doc.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error"),
        "status": doc.status,
        "detail": doc.description.split(['.', ':', ';']).next().unwrap_or(""),
    })));
    let mut response = ResponseBuilder::new()
        .description(format!("{} Type: {}.", doc.description, slugs.join(", ")))
        .content(PROBLEM_JSON, content.build());
    if doc.retry_after {
        response = response.header("Retry-After", header("Seconds to wait."));
    }
    if doc.status == 429 {
        response = response
            .header(
                "RateLimit-Policy",
                header("The limits that apply (IETF RateLimit header fields)."),
            )
            .header("RateLimit", header("What is left of them."));
    }
    response.build()
}
