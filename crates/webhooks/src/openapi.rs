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
use rampart_http::openapi::{BadRequest, NotFound, RateLimited, Unprocessable};

#[derive(OpenApi)]
#[openapi(paths(
    list,
    one,
    replay,
    provider_events,
    list_envelopes,
    get_envelope,
    list_messages,
    get_message,
    list_inbound,
    get_opt_out,
    list_provider_payments,
    get_provider_payment
))]
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
    /// Why the event was `ignored`, when the provider says (a Stripe customer linked to no user).
    pub outcome_reason: Option<String>,
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

/// One processed provider event, normalised.
#[derive(ToSchema)]
pub struct FeedEvent {
    pub provider: String,
    pub event_id: String,
    /// The provider's event type (`envelope-completed`, `message.status`, `payment_intent.succeeded`...).
    #[schema(rename = "type")]
    pub event_type: Option<String>,
    /// What the event is about, when it names something we track.
    pub subject: Option<FeedSubject>,
    /// `applied`, `superseded`, `ignored`, `owner_blocked` or `stale`.
    pub outcome: String,
    /// The provider's time of the event (ms), else when it was received.
    pub occurred_at: i64,
    /// When it was processed (ms): the feed's order.
    pub processed_at: i64,
}

/// The object an event is about.
#[derive(ToSchema)]
pub struct FeedSubject {
    /// `envelope`, `message`, `inbound_message`, `payment`, or Stripe's object type (`payment_intent`, `subscription`, `invoice`...).
    pub kind: String,
    pub id: String,
}

/// A page of the feed, oldest first.
#[derive(ToSchema)]
pub struct FeedPage {
    pub data: Vec<FeedEvent>,
    /// Pass as `after` on the next call (also when `data` is empty); `null` only before anything was read.
    pub cursor: Option<String>,
    /// More settled events are waiting: call again now.
    pub has_more: bool,
}

/// A tracked provider object's current state.
#[derive(ToSchema)]
pub struct StateView {
    /// `docusign`, `twilio`, `stripe`, `square`.
    pub provider: String,
    /// The provider's id (envelope id, message SID, PaymentIntent or payment id).
    pub id: String,
    pub status: String,
    /// When the status last moved (ms).
    pub updated_at: i64,
    /// Provider payments only: the order of ours it paid, `null` for a payment made elsewhere.
    pub order_id: Option<String>,
    /// Provider payments only: our payment attempt (`GET /payments/{id}`).
    pub payment_id: Option<String>,
}

/// A tracked provider object with its history.
#[derive(ToSchema)]
pub struct StateDetail {
    pub provider: String,
    pub id: String,
    pub status: String,
    pub updated_at: i64,
    /// Provider payments only: the order of ours it paid.
    pub order_id: Option<String>,
    /// Provider payments only: our payment attempt.
    pub payment_id: Option<String>,
    /// Every processed event about it, in the provider's order (older ones that changed nothing are `superseded`).
    pub history: Vec<FeedEvent>,
}

/// A page of tracked objects, most recently changed first.
#[derive(ToSchema)]
pub struct StatePage {
    pub data: Vec<StateView>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub cursor: Option<String>,
}

/// An inbound SMS as received (kept 90 days).
#[derive(ToSchema)]
pub struct InboundView {
    pub sid: String,
    pub from: String,
    pub to: Option<String>,
    pub body: String,
    /// Twilio's `DateSent` (epoch seconds), when sent.
    pub sent_at: Option<i64>,
    /// When it reached us (ms).
    pub received_at: i64,
}

/// A page of inbound SMS, newest first.
#[derive(ToSchema)]
pub struct InboundPage {
    pub data: Vec<InboundView>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub cursor: Option<String>,
}

/// A phone number's opt-out state.
#[derive(ToSchema)]
pub struct OptOutView {
    pub phone: String,
    /// After STOP (or a STOP-family word) until START.
    pub opted_out: bool,
    /// When the last keyword was sent (ms); `null` if the number never sent one.
    pub changed_at: Option<i64>,
}

/// The app's feed of processed provider events, oldest first, from a cursor (like Stripe's `/v1/events`).
///
/// An event appears 30 s after it was processed, so polling with the returned `cursor` never misses or repeats one.
#[utoipa::path(get, operation_id = "list_provider_events", path = "/admin/provider-events", tag = "operators",
    params(
        ("after" = Option<String>, Query, description = "The `cursor` of the previous call; absent: from the oldest event kept."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
        ("provider" = Option<String>, Query, description = "Only this provider's events (`stripe`, `standard:<source>`...)."),
        ("type" = Option<String>, Query, description = "Only events of this provider type."),
        ("outcome" = Option<String>, Query, description = "Only events that ended so (400 for an unknown outcome)."),
    ),
    responses((status = 200, description = "A page of the feed.", body = FeedPage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn provider_events() {}

/// DocuSign envelopes, most recently changed first.
#[utoipa::path(get, operation_id = "list_envelopes", path = "/admin/envelopes", tag = "operators",
    params(
        ("status" = Option<String>, Query, description = "`sent`, `delivered`, `completed`, `declined` or `voided`."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
    ),
    responses((status = 200, description = "A page of envelopes.", body = StatePage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list_envelopes() {}

/// One DocuSign envelope with its status history.
#[utoipa::path(get, operation_id = "get_envelope", path = "/admin/envelopes/{id}", tag = "operators",
    params(("id" = String, Path, description = "DocuSign's envelope id.")),
    responses((status = 200, description = "The envelope.", body = StateDetail), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn get_envelope() {}

/// Outgoing Twilio messages' delivery, most recently changed first.
#[utoipa::path(get, operation_id = "list_sms_messages", path = "/admin/sms/messages", tag = "operators",
    params(
        ("status" = Option<String>, Query, description = "`queued`, `sent`, `delivered`, `undelivered` or `failed`."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
    ),
    responses((status = 200, description = "A page of messages.", body = StatePage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list_messages() {}

/// One outgoing Twilio message with its delivery history.
#[utoipa::path(get, operation_id = "get_sms_message", path = "/admin/sms/messages/{sid}", tag = "operators",
    params(("sid" = String, Path, description = "Twilio's message SID.")),
    responses((status = 200, description = "The message.", body = StateDetail), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn get_message() {}

/// Inbound SMS, newest first (every text, STOP/START included).
#[utoipa::path(get, operation_id = "list_inbound_sms", path = "/admin/sms/inbound", tag = "operators",
    params(
        ("from" = Option<String>, Query, description = "Only this sender's (E.164)."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
    ),
    responses((status = 200, description = "A page of inbound messages.", body = InboundPage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list_inbound() {}

/// A phone number's SMS opt-out state.
#[utoipa::path(get, operation_id = "get_sms_opt_out", path = "/admin/sms/opt-outs/{phone}", tag = "operators",
    params(("phone" = String, Path, description = "E.164, URL-encoded (`%2B15550001111`).")),
    responses((status = 200, description = "The number's state.", body = OptOutView), Unprocessable, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn get_opt_out() {}

/// Provider payments (Stripe PaymentIntents, Square payments, the mock provider's intents) with the order each paid, most recently changed first.
#[utoipa::path(get, operation_id = "list_provider_payments", path = "/admin/provider-payments", tag = "operators",
    params(
        ("status" = Option<String>, Query, description = "A status on the payment ladder (`processing`, `succeeded`, `failed`, `canceled`, `refunded`...)."),
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-200 (default 50)."),
    ),
    responses((status = 200, description = "A page of payments.", body = StatePage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list_provider_payments() {}

/// One provider payment with its history.
#[utoipa::path(get, operation_id = "get_provider_payment", path = "/admin/provider-payments/{provider}/{id}", tag = "operators",
    params(
        ("provider" = String, Path, description = "`stripe`, `square` or `standard:mock`."),
        ("id" = String, Path, description = "The PaymentIntent id (Stripe) or payment id (Square)."),
    ),
    responses((status = 200, description = "The payment.", body = StateDetail), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn get_provider_payment() {}
