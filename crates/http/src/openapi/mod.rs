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

mod problems;
mod security;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr,
};
use utoipa::{PartialSchema, ToSchema};

pub use problems::*;
pub use security::SCHEMES;
pub use utoipa;

use problems::{problem_component, problem_doc};
use rampart_platform::error::{FieldError, Problem};
use security::{CREDENTIALS, scheme};

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

/// `GET <path>`: the document `build` makes, built and rendered once, when first asked for. Not
/// at startup: a Lambda function's cold start would pay for a document its first request (a
/// webhook, a sign-in) never reads.
pub fn serve<S: Clone + Send + Sync + 'static>(
    path: &str,
    build: impl Fn() -> OpenApi + Send + Sync + 'static,
) -> Router<S> {
    let rendered = std::sync::Arc::new(std::sync::OnceLock::<bytes::Bytes>::new());
    let build = std::sync::Arc::new(build);
    Router::new().route(
        path,
        get(move || {
            let (rendered, build) = (rendered.clone(), build.clone());
            async move {
                let body = rendered.get_or_init(|| {
                    bytes::Bytes::from(build().to_pretty_json().expect("the contract serialises"))
                });
                json_answer(body.clone())
            }
        }),
    )
}

fn json_answer(body: bytes::Bytes) -> HttpResponse {
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A tier's limits by feature; `null` is unlimited (billing's tiers and customers' licenses).
#[derive(ToSchema)]
#[schema(example = json!({"api_calls_per_day": 100, "concurrent_builds": 1, "private_repos": 0, "team_members": 1, "marketplace_agents": 0}))]
pub struct TierLimits(pub BTreeMap<String, Option<u64>>);

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
