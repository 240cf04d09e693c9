//! The contract of the `/billing/*` routes (`billing-api`, `billing::routes`). How to add a
//! route: `rampart_http::openapi`'s module doc.
use utoipa::{OpenApi, ToSchema};

use super::adopt::LinkBody;
use super::change::ChangeBody;
use super::checkout::CheckoutBody;
use rampart_http::openapi::{
    BadGateway, Conflict, Forbidden, NotFound, OwnerExempt, PaymentUnavailable, QuotaExceeded,
    RateLimited, TierLimits, Unavailable, Unprocessable,
};

#[derive(OpenApi)]
#[openapi(paths(
    tiers,
    subscription,
    usage,
    entitlements,
    checkout_session,
    cancel,
    resume,
    change_plan,
    portal_session,
    checkout_success,
    checkout_canceled,
    link_customer
))]
struct Api;

/// The `/billing/*` part of `billing-api`'s document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// One row of the tier table.
#[derive(ToSchema)]
pub struct TierRow {
    /// `free`, `starter`, `pro`, `enterprise`.
    pub tier: String,
    pub limits: TierLimits,
    /// The Stripe price (`STRIPE_PRICES`), `null` when the tier has none.
    pub price_id: Option<String>,
    pub purchasable: bool,
}

/// The tier table.
#[derive(ToSchema)]
pub struct TierTable {
    pub tiers: Vec<TierRow>,
}

/// The user's subscription.
#[derive(ToSchema)]
#[schema(example = json!({"plan": "pro", "subscription_status": "active", "current_period_end": 1798585505, "cancel_at_period_end": false}))]
pub struct SubscriptionView {
    pub plan: String,
    pub subscription_status: String,
    /// Unix seconds; `null` without a subscription.
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
}

/// Today's counted calls.
#[derive(ToSchema)]
pub struct ApiCalls {
    pub used: i64,
    /// `null` on an unlimited tier.
    pub limit: Option<i64>,
    pub remaining: Option<i64>,
}

/// `GET /billing/usage`.
#[derive(ToSchema)]
pub struct UsageView {
    pub tier: String,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub api_calls: ApiCalls,
    /// Unix seconds of the next UTC midnight.
    pub resets_at: i64,
}

/// Today's usage by feature.
#[derive(ToSchema)]
pub struct UsageToday {
    pub api_calls_per_day: i64,
}

/// `GET /billing/entitlements`.
#[derive(ToSchema)]
pub struct EntitlementsView {
    pub tier: String,
    pub limits: TierLimits,
    pub usage: UsageToday,
    pub resets_at: i64,
}

/// A Stripe Checkout Session to send the user to.
#[derive(ToSchema)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

/// The tier table (public).
#[utoipa::path(get, path = "/billing/tiers", tag = "billing",
    responses((status = 200, description = "Every tier, its limits and price.", body = TierTable)),
    security(()),
)]
pub fn tiers() {}

/// The signed-in user's subscription.
#[utoipa::path(get, path = "/billing/subscription", tag = "billing",
    responses((status = 200, description = "The subscription.", body = SubscriptionView), QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn subscription() {}

/// Today's API calls against the tier's daily quota (this call is not counted).
#[utoipa::path(get, path = "/billing/usage", tag = "billing",
    responses((status = 200, description = "Usage today.", body = UsageView), Unavailable),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn usage() {}

/// Every limit of the caller's tier and today's usage.
#[utoipa::path(get, path = "/billing/entitlements", tag = "billing",
    responses((status = 200, description = "Entitlements.", body = EntitlementsView), QuotaExceeded),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn entitlements() {}

/// Starts a Stripe Checkout Session for a tier (honours `Idempotency-Key`).
#[utoipa::path(post, path = "/billing/checkout-session", tag = "billing", request_body = CheckoutBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key answer the first result.")),
    responses(
        (status = 201, description = "The session.", body = CheckoutSession),
        OwnerExempt, Conflict, Unprocessable, QuotaExceeded, PaymentUnavailable, BadGateway,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn checkout_session() {}

/// Cancels the subscription at the end of its period.
#[utoipa::path(post, path = "/billing/cancel", tag = "billing",
    responses(
        (status = 202, description = "Cancellation pending.", body = SubscriptionView),
        Forbidden, Conflict, QuotaExceeded, PaymentUnavailable,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn cancel() {}

/// Undoes a pending cancellation.
#[utoipa::path(post, path = "/billing/resume", tag = "billing",
    responses(
        (status = 200, description = "Resumed.", body = SubscriptionView),
        Forbidden, Conflict, QuotaExceeded, PaymentUnavailable,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn resume() {}

/// A plan change Stripe was asked for; the plan moves when Stripe confirms it.
#[derive(ToSchema)]
#[schema(example = json!({"plan": "pro", "requested_tier": "enterprise", "subscription_status": "active", "current_period_end": 1798585505, "proration_behavior": "create_prorations"}))]
pub struct ChangeRequested {
    /// The tier the user has until the change is confirmed.
    pub plan: String,
    pub requested_tier: String,
    pub subscription_status: String,
    pub current_period_end: Option<i64>,
    /// Stripe's `proration_behavior` on the update: always `create_prorations`.
    pub proration_behavior: String,
}

/// A Stripe Billing Portal session to send the user to.
#[derive(ToSchema)]
pub struct PortalSession {
    pub id: String,
    pub url: String,
}

/// A Stripe customer linked to a user.
#[derive(ToSchema)]
pub struct CustomerLinkView {
    pub user_id: String,
    pub customer_id: String,
}

/// Changes the tier of the running subscription through Stripe's subscription update, prorated
/// (`proration_behavior=create_prorations`); the plan moves when Stripe's
/// `customer.subscription.updated` confirms it.
#[utoipa::path(post, path = "/billing/subscription/change", tag = "billing", request_body = ChangeBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key reach the same update at Stripe.")),
    responses(
        (status = 202, description = "Asked of Stripe.", body = ChangeRequested),
        OwnerExempt, Conflict, Unprocessable, QuotaExceeded, PaymentUnavailable, BadGateway,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn change_plan() {}

/// Opens a Stripe Billing Portal session for the user's customer (update the card, invoices).
#[utoipa::path(post, path = "/billing/portal-session", tag = "billing",
    responses(
        (status = 201, description = "The session.", body = PortalSession),
        OwnerExempt, Conflict, QuotaExceeded, PaymentUnavailable, BadGateway,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn portal_session() {}

/// Where Stripe Checkout returns a user who paid, when `CHECKOUT_SUCCESS_URL` is unset (not in
/// production).
#[utoipa::path(get, path = "/billing/checkout/success", tag = "billing",
    responses((status = 200, description = "A small HTML page.", content_type = "text/html", body = String)),
    security(()),
)]
pub fn checkout_success() {}

/// Where Stripe Checkout returns a user who backed out, when `CHECKOUT_CANCEL_URL` is unset (not
/// in production).
#[utoipa::path(get, path = "/billing/checkout/canceled", tag = "billing",
    responses((status = 200, description = "A small HTML page.", content_type = "text/html", body = String)),
    security(()),
)]
pub fn checkout_canceled() {}

/// Links an existing Stripe customer to a user (a team bringing its customers from its own
/// integration); audited.
#[utoipa::path(post, path = "/admin/billing/customer-links", tag = "operators", request_body = LinkBody,
    responses(
        (status = 201, description = "Linked.", body = CustomerLinkView),
        (status = 200, description = "Already linked so.", body = CustomerLinkView),
        OwnerExempt, NotFound, Conflict, Unprocessable, RateLimited, PaymentUnavailable, BadGateway,
    ),
    security(("admin_bearer" = [])),
)]
pub fn link_customer() {}
