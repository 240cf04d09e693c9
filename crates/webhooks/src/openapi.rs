//! The contract of `webhooks-api`: one intake operation per path of each registered provider
//! (generated from the registry, so a new provider is documented by registering it), and the
//! operator routes over received events. How to add a route: `rampart_http::openapi`'s module doc.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr, Required,
};
use utoipa::{OpenApi, PartialSchema, ToSchema};

use super::providers::Registry;
use rampart_http::openapi::{BadRequest, NotFound, RateLimited};

#[derive(OpenApi)]
#[openapi(paths(list, one, replay))]
struct Api;

/// `webhooks-api`'s part for the providers of `registry`.
pub fn openapi(registry: &Registry) -> utoipa::openapi::OpenApi {
    let mut doc = Api::openapi();
    doc.merge(intake(registry));
    doc
}

/// The provider's security scheme in `rampart_http::openapi::SCHEMES`.
fn scheme_of(provider: &str) -> String {
    match provider {
        "standard" => "standard_webhooks".into(),
        other => format!("{other}_signature"),
    }
}

fn intake(registry: &Registry) -> utoipa::openapi::OpenApi {
    let mut paths = PathsBuilder::new();
    for provider in registry.iter() {
        let name = provider.name();
        for path in provider.paths() {
            let object = || {
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new()))
                    .build()
            };
            let mut body = RequestBodyBuilder::new()
                .description(Some(format!(
                    "The {name} event exactly as the provider sent it: the signature covers \
                     these bytes."
                )))
                .required(Some(Required::True));
            body = if name == "twilio" {
                body.content("application/x-www-form-urlencoded", object())
                    .content("application/json", object())
            } else {
                body.content("application/json", object())
            };
            let ok = ResponseBuilder::new()
                .description(
                    "Recorded and queued, or a duplicate or stale delivery (changes nothing).",
                )
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(Ref::from_schema_name(Received::name()))))
                        .build(),
                );
            let mut responses = ResponsesBuilder::new()
                .response("200", ok.build())
                .responses_from_into_responses::<BadRequest>()
                .responses_from_into_responses::<RateLimited>();
            let mut op = OperationBuilder::new()
                .tag("webhooks")
                .summary(Some(format!("Receives a {name} webhook delivery.")))
                .description(Some(
                    "The answer never says which check failed (the log does). Refused \
                     deliveries count against `WEBHOOK_RATE_LIMIT` per IP; verified ones never.",
                ))
                .operation_id(Some(format!(
                    "webhook_{}",
                    path.trim_start_matches("/webhooks/")
                        .replace(['/', '{', '}'], "_")
                        .trim_end_matches('_')
                )))
                .request_body(Some(body.build()))
                .security(SecurityRequirement::new(
                    scheme_of(name),
                    Vec::<String>::new(),
                ));
            if path.contains('{') {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name("source")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .description(Some("A source configured in STANDARD_WEBHOOK_SOURCES."))
                        .schema(Some(String::schema())),
                );
                responses = responses.responses_from_into_responses::<NotFound>();
            }
            let op = op.responses(responses.build());
            paths = paths.path(*path, PathItem::new(HttpMethod::Post, op.build()));
        }
    }
    let components = utoipa::openapi::ComponentsBuilder::new()
        .schema(Received::name(), Received::schema())
        .build();
    OpenApiBuilder::new()
        .paths(paths)
        .components(Some(components))
        .build()
}

/// The answer to every accepted delivery.
#[derive(ToSchema)]
pub struct Received {
    /// Always `true`.
    pub received: bool,
}

/// One received event as operators see it.
#[derive(ToSchema)]
pub struct EventView {
    pub provider: String,
    pub event_id: String,
    pub event_type: String,
    /// `received`, `queued`, `processing`, `processed`, `failed`...
    pub status: String,
    /// How processing ended (`applied`, `ignored`, `superseded`, `owner_blocked`, `stale`...).
    pub outcome: Option<String>,
    pub attempts: i64,
    pub received_at: i64,
    pub queued_at: Option<i64>,
    pub processed_at: Option<i64>,
    pub last_error: Option<String>,
    /// With `include_payload=true` only: the raw body (base64 when not UTF-8).
    pub payload: Option<String>,
}

/// A page of events, newest first.
#[derive(ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub cursor: Option<String>,
}

/// The replay was queued.
#[derive(ToSchema)]
pub struct Replayed {
    /// Always `true`.
    pub replayed: bool,
    /// The event's status after re-queueing.
    pub status: String,
}

/// Lists received webhook events, newest first.
#[utoipa::path(get, operation_id = "list_webhook_events", path = "/admin/webhook-events", tag = "operators",
    params(
        ("provider" = Option<String>, Query, description = "Only this provider's events (400 for an unknown one)."),
        ("status" = Option<String>, Query, description = "Only events in this status (400 for an unknown one)."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
    ),
    responses((status = 200, description = "A page of events.", body = EventPage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list() {}

/// One received event.
#[utoipa::path(get, operation_id = "get_webhook_event", path = "/admin/webhook-events/{provider}/{event_id}", tag = "operators",
    params(
        ("provider" = String, Path, description = "stripe, square, docusign, twilio, standard"),
        ("event_id" = String, Path, description = "The provider's event id."),
        ("include_payload" = Option<bool>, Query, description = "Adds the raw payload."),
    ),
    responses((status = 200, description = "The event.", body = EventView), BadRequest, NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn one() {}

/// Queues an event again; a processed event is not applied twice.
#[utoipa::path(post, operation_id = "replay_webhook_event", path = "/admin/webhook-events/{provider}/{event_id}/replay", tag = "operators",
    params(
        ("provider" = String, Path, description = "stripe, square, docusign, twilio, standard"),
        ("event_id" = String, Path, description = "The provider's event id."),
    ),
    responses((status = 202, description = "Re-enqueued.", body = Replayed), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn replay() {}
