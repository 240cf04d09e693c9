//! The API contract, OpenAPI 3.1 generated from the code: the vocabulary every route's docs use
//! (problem responses with their `type` slugs, security schemes), a function's document
//! assembled from its domains' parts, and the route that serves it (`GET /<group>/openapi.json`;
//! the local stack serves every function's document merged at `GET /openapi.json`).
//!
//! # How to document a route
//!
//! A route and its contract change together: the stale-contract test
//! (`tests/tests/it/openapi.rs`) fails when a served route has no operation here, and when the
//! committed `openapi.json` differs from what the code generates.
//!
//! 1. In the domain's `openapi.rs` (`shared/src/auth/openapi.rs`, `billing/openapi.rs`, ...;
//!    a new domain adds one and lists it in its function crate's `openapi()`), write one stub
//!    per route, named after its handler, with the route's doc comment as summary:
//!
//!    ```ignore
//!    /// Signs in with a password.
//!    #[utoipa::path(post, path = "/auth/login", tag = "auth",
//!        request_body = Login,
//!        responses(
//!            (status = 200, description = "Signed in", body = Tokens),
//!            Unauthorized, RateLimited,
//!        ),
//!        security(()),
//!    )]
//!    pub fn login() {}
//!    ```
//!
//!    and add `login` to the `paths(...)` of that file's `#[derive(OpenApi)] struct Api`.
//! 2. Every status the route can answer is listed: success bodies with a schema
//!    (`#[derive(utoipa::ToSchema)]` on the request struct the handler deserialises; a doc-only
//!    struct in the `openapi.rs` for `json!` answers), errors as the problem responses below
//!    (`Unauthorized`, `NotFound`, `Conflict`, `RateLimited`, `QuotaExceeded`, `OwnerExempt`,
//!    ...; each names its `type` slugs). A route with a request body gets 400/413/415/422 added
//!    by [`document`]; a route with a security requirement gets 401. A new slug is a new row in
//!    [`PROBLEMS`] plus its name in `problem_responses!`.
//! 3. `security(...)` names the schemes of [`SCHEMES`]: user routes
//!    `security(("bearer" = []), ("session_cookie" = [], "csrf_header" = []))` (GET routes
//!    without `csrf_header`), operator routes `("admin_bearer" = [])`, customer instances
//!    `("api_key" = [])`, public routes `security(())`.
//! 4. Regenerate the committed contract and review its diff:
//!    `RAMPART_BLESS=1 cargo test -p rampart-tests --test it openapi::`. `./scripts/contract`
//!    then runs schemathesis against the local stack: every answer must match what you wrote.

use std::collections::BTreeMap;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HeaderBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref,
    RefOr,
};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

pub use utoipa;

use crate::error::{FieldError, PROBLEM_JSON, Problem};

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
        name: "Forbidden",
        status: 403,
        slugs: &["forbidden"],
        description: "Authenticated but refused: a cookie request without a matching \
                      `X-CSRF-Token` or from a foreign `Origin`, or a wrong current password.",
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
        slugs: &["conflict", "order-not-payable", "order-not-paid"],
        description: "The order's state does not allow this (`order-not-payable`: not \
                      CREATED; `order-not-paid`), or the same key is still running.",
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
    Forbidden,
    OwnerExempt,
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
);

fn problem_doc(name: &str) -> &'static ProblemDoc {
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

fn problem_component(doc: &ProblemDoc) -> Response {
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

/// The security schemes routes may name in `security(...)`.
pub const SCHEMES: &[&str] = &[
    "bearer",
    "session_cookie",
    "csrf_header",
    "refresh_cookie",
    "admin_bearer",
    "api_key",
    "stripe_signature",
    "square_signature",
    "docusign_signature",
    "twilio_signature",
    "standard_webhooks",
];

/// The schemes that are credentials (a refusal is 401).
const CREDENTIALS: &[&str] = &[
    "bearer",
    "session_cookie",
    "refresh_cookie",
    "admin_bearer",
    "api_key",
];

fn api_key_header(name: &str, description: &str) -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
        name,
        description,
    )))
}

fn scheme(name: &str) -> SecurityScheme {
    let bearer = |description: &str| {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(description.into());
        SecurityScheme::Http(http)
    };
    let cookie = |cookie: &str, description: &str| {
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            cookie,
            description,
        )))
    };
    match name {
        "bearer" => {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.bearer_format = Some("JWT".into());
            http.description =
                Some("An access token from sign-in or refresh (`delivery: \"body\"`).".into());
            SecurityScheme::Http(http)
        }
        "session_cookie" => cookie(
            "access_token",
            "The httpOnly access-token cookie of a web sign-in (`__Host-access_token` with \
             COOKIE_SECURE). A POST with it also needs `csrf_header`.",
        ),
        "csrf_header" => api_key_header(
            "X-CSRF-Token",
            "Double submit: equal to the `csrf_token` cookie (OWASP CSRF Prevention Cheat \
             Sheet). Required with a session or refresh cookie, never with a Bearer token.",
        ),
        "refresh_cookie" => cookie(
            "refresh_token",
            "The httpOnly refresh-token cookie (`Path=/auth`; `__Secure-refresh_token` with \
             COOKIE_SECURE).",
        ),
        "admin_bearer" => bearer("The operator token, `ADMIN_API_TOKEN`."),
        "api_key" => api_key_header(
            "X-API-Key",
            "A customer instance's key, `rk_live_<key id>_<secret>` (`rk_test_` outside \
             production).",
        ),
        "stripe_signature" => api_key_header(
            "Stripe-Signature",
            "`t=<unix time>,v1=<HMAC-SHA256 hex>` over `t.body` (Stripe's webhook signing).",
        ),
        "square_signature" => api_key_header(
            "x-square-hmacsha256-signature",
            "Base64 HMAC-SHA256 over SQUARE_WEBHOOK_URL followed by the body.",
        ),
        "docusign_signature" => api_key_header(
            "X-DocuSign-Signature-1",
            "Base64 HMAC-SHA256 of the body (DocuSign Connect; `-2`... for more keys).",
        ),
        "twilio_signature" => api_key_header(
            "X-Twilio-Signature",
            "Base64 HMAC-SHA1 over PUBLIC_BASE_URL + path + sorted form parameters.",
        ),
        "standard_webhooks" => api_key_header(
            "webhook-signature",
            "Standard Webhooks: `v1,<base64 HMAC-SHA256>` over `webhook-id.webhook-timestamp.body` \
             with the source's secret; `webhook-id` and `webhook-timestamp` headers too.",
        ),
        other => panic!("unknown security scheme {other}"),
    }
}

/// The problem and security components every document carries.
fn components() -> utoipa::openapi::Components {
    let mut c = ComponentsBuilder::new()
        .schema(Problem::name(), Problem::schema())
        .schema(FieldError::name(), FieldError::schema());
    for p in PROBLEMS {
        c = c.response(p.name, problem_component(p));
    }
    for s in SCHEMES {
        c = c.security_scheme(*s, scheme(s));
    }
    c.build()
}

/// Adds the answers every route of its kind can give: a body can be malformed (400), too large
/// (413), of another type (415) or of the wrong shape (422); a credential can be refused (401).
fn add_implied(op: &mut Operation) {
    let mut implied: Vec<&str> = Vec::new();
    if op.request_body.is_some() {
        implied.extend(["BadRequest", "PayloadTooLarge", "UnsupportedMediaType"]);
        implied.push("Unprocessable");
    }
    // Only credentials answer 401; a refused provider signature is a 400.
    let secured = serde_json::to_value(&op.security).is_ok_and(|v| {
        CREDENTIALS.iter().any(|c| {
            v.as_array()
                .is_some_and(|reqs| reqs.iter().any(|r| r.get(c).is_some()))
        })
    });
    if secured {
        implied.push("Unauthorized");
    }
    for name in implied {
        let doc = problem_doc(name);
        op.responses
            .responses
            .entry(doc.status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(|o| o.as_mut())
}

/// A function's document: its parts (each domain's `openapi()`), its health route and the
/// route serving the document itself, with the shared components and implied answers.
pub fn document(function: &str, group: &str, parts: Vec<OpenApi>) -> OpenApi {
    let info = InfoBuilder::new()
        .title(format!("Rampart {function}"))
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Generated from the code (shared/src/openapi). Errors are RFC 9457 \
             `application/problem+json` with a stable `type` (`urn:rampart:problem:<slug>`).",
        ))
        .build();
    let mut doc = OpenApiBuilder::new()
        .info(info)
        .components(Some(components()))
        .build();
    absorb(&mut doc, service_paths(group));
    for part in parts {
        absorb(&mut doc, part);
    }
    for item in doc.paths.paths.values_mut() {
        operations(item).for_each(add_implied);
    }
    doc
}

/// Merges `part` into `doc`, refusing what a silent merge would hide: two schemas of one name
/// that differ (two request structs both called `Reset`) and one path documented twice.
fn absorb(doc: &mut OpenApi, part: OpenApi) {
    for (path, _) in part.paths.paths.iter() {
        assert!(
            !doc.paths.paths.contains_key(path),
            "{path} is documented twice"
        );
    }
    if let (Some(mine), Some(theirs)) = (&doc.components, &part.components) {
        for (name, schema) in &theirs.schemas {
            if let Some(existing) = mine.schemas.get(name) {
                let same = serde_json::to_value(existing).ok() == serde_json::to_value(schema).ok();
                assert!(
                    same,
                    "two different schemas are named {name}: rename one with #[schema(as = ...)]"
                );
            }
        }
    }
    doc.merge(part);
}

/// Every function's document as one: what the local stack serves at `/openapi.json`.
pub fn merged(function_docs: Vec<OpenApi>) -> OpenApi {
    let mut docs = function_docs.into_iter();
    let mut all = docs.next().unwrap_or_default();
    all.info.title = "Rampart".into();
    all.info.description = Some(format!(
        "{} Each function also serves its own part at `/<group>/openapi.json`.",
        all.info.description.unwrap_or_default()
    ));
    for d in docs {
        absorb(&mut all, d);
    }
    absorb(&mut all, service_paths(""));
    all
}

/// An OpenAPI document.
pub type Document = OpenApi;

/// `GET <path>`: the document, rendered once.
pub fn serve<S: Clone + Send + Sync + 'static>(path: &str, doc: &OpenApi) -> Router<S> {
    let body = bytes::Bytes::from(doc.to_pretty_json().expect("the contract serialises"));
    Router::new().route(path, get(move || async move { json_answer(body) }))
}

fn json_answer(body: bytes::Bytes) -> HttpResponse {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The health route's answer.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok", "checks": {"store": "ok", "queue": "ok"}}))]
pub struct Health {
    /// `ok`, or `degraded` when a dependency is down.
    #[schema(pattern = "^(ok|degraded)$")]
    pub status: String,
    /// Each dependency's state: `ok` or `down`.
    pub checks: BTreeMap<String, String>,
}

/// `/<group>/health` and `/<group>/openapi.json` of a group (`/openapi.json` for "").
fn service_paths(group: &str) -> OpenApi {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
    let json = |schema: RefOr<utoipa::openapi::schema::Schema>| {
        ContentBuilder::new().schema(Some(schema)).build()
    };
    let ok_doc = ResponseBuilder::new()
        .description("The OpenAPI 3.1 document.")
        .content(
            "application/json",
            json(utoipa::openapi::ObjectBuilder::new().into()),
        )
        .build();
    let doc_op = OperationBuilder::new()
        .tag("contract")
        .summary(Some("This API's OpenAPI 3.1 document."))
        .operation_id(Some(format!("openapi_{}", group_id(group))))
        .security(utoipa::openapi::security::SecurityRequirement::default())
        .response("200", ok_doc)
        .build();
    let doc_path = if group.is_empty() {
        "/openapi.json".to_string()
    } else {
        format!("/{group}/openapi.json")
    };
    let mut paths = PathsBuilder::new().path(doc_path, PathItem::new(HttpMethod::Get, doc_op));
    if !group.is_empty() {
        let health_op = OperationBuilder::new()
            .tag("health")
            .summary(Some("The status of each dependency this function uses."))
            .operation_id(Some(format!("health_{}", group_id(group))))
            .security(utoipa::openapi::security::SecurityRequirement::default())
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Every dependency answers.")
                    .content("application/json", json(health_ref())),
            )
            .response(
                "503",
                ResponseBuilder::new()
                    .description("A dependency is down (`status: degraded`).")
                    .content("application/json", json(health_ref())),
            )
            .build();
        paths = paths.path(
            format!("/{group}/health"),
            PathItem::new(HttpMethod::Get, health_op),
        );
    }
    let components = ComponentsBuilder::new()
        .schema(Health::name(), Health::schema())
        .build();
    OpenApiBuilder::new()
        .paths(paths)
        .components(Some(components))
        .build()
}

fn health_ref() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::Ref(Ref::from_schema_name(Health::name()))
}

fn group_id(group: &str) -> String {
    if group.is_empty() {
        "all".into()
    } else {
        group.replace(['-', '/'], "_")
    }
}
