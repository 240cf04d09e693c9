//! The contract of the retention operator routes (served by `webhooks-api`, which owns
//! `/admin/*`): legal holds and the on-demand run. How to add a route: `rampart_http::openapi`'s
//! module doc.

use utoipa::{OpenApi, ToSchema};

use super::hold::NewHold;
use super::routes::RunRequest;
use rampart_http::openapi::{NotFound, RateLimited};

#[derive(OpenApi)]
#[openapi(paths(place, list, lift, run))]
struct Api;

/// The retention routes' part of `webhooks-api`'s document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// What a hold keeps: exactly one member.
#[derive(ToSchema)]
pub struct SubjectView {
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub item_key: Option<ItemKeyView>,
}

#[derive(ToSchema)]
pub struct ItemKeyView {
    pub pk: String,
    pub sk: String,
}

/// An active legal hold.
#[derive(ToSchema)]
pub struct HoldView {
    pub id: String,
    pub subject: SubjectView,
    pub reason: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// The operator token's fingerprint (`operator:<hash>`).
    pub created_by: String,
}

/// Every active hold.
#[derive(ToSchema)]
pub struct HoldList {
    pub legal_holds: Vec<HoldView>,
}

/// What one policy did (or in a dry run would do).
#[derive(ToSchema)]
pub struct PolicyView {
    pub policy: String,
    /// The items' `type`.
    pub kind: String,
    /// `delete` or `anonymise`.
    pub action: String,
    /// `index` (walked by the job) or `ttl` (DynamoDB's TTL does it).
    pub via: String,
    /// The time index walked (`via: index` only).
    pub index: Option<String>,
    /// Past the period and not held: what a dry run reports and a real run acts on.
    pub due: u64,
    pub deleted: u64,
    pub anonymised: u64,
    /// Past the period but kept by a legal hold.
    pub held: u64,
    /// False when the run's budget ran out first (the next run goes on).
    pub complete: bool,
}

/// A retention run's report.
#[derive(ToSchema)]
pub struct RunReport {
    pub dry_run: bool,
    pub policies: Vec<PolicyView>,
    /// Expired items removed from the embedded store (DynamoDB's TTL does this in AWS).
    pub expired_items_removed: u64,
    pub webhooks_requeued: u64,
    /// Unfinished erasures (a crash, a since-lifted legal hold) looked at; each is finished
    /// unless a hold still keeps its user.
    pub erasures_resumed: u64,
    /// True when the run stopped at its budget with more left to do.
    pub incomplete: bool,
    pub dead_letter_depth: Option<u64>,
}

/// Places a legal hold on a user, a customer instance or one item (audited).
#[utoipa::path(post, operation_id = "place_legal_hold", path = "/admin/legal-holds", tag = "operators",
    request_body = NewHold,
    responses(
        (status = 201, description = "Placed; `Location` names it.", body = HoldView,
            headers(("Location" = String, description = "/admin/legal-holds/{id}"))),
        RateLimited,
    ),
    security(("admin_bearer" = [])),
)]
pub fn place() {}

/// Lists every active legal hold.
#[utoipa::path(get, operation_id = "list_legal_holds", path = "/admin/legal-holds", tag = "operators",
    responses((status = 200, description = "The active holds.", body = HoldList), RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list() {}

/// Lifts a legal hold (audited); the next retention run removes what it kept.
#[utoipa::path(delete, operation_id = "lift_legal_hold", path = "/admin/legal-holds/{id}", tag = "operators",
    params(("id" = String, Path, description = "The hold's id.")),
    responses((status = 204, description = "Lifted."), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn lift() {}

/// Runs the retention job now (at most 5 s); `dry_run` reports without changing anything.
#[utoipa::path(post, operation_id = "run_retention", path = "/admin/retention/run", tag = "operators",
    request_body = RunRequest,
    responses((status = 200, description = "The run's report.", body = RunReport), RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn run() {}
