//! The contract of the customer-instance routes (`billing-api`, `customers::routes`): operator
//! management under `/admin/customers`, usage reports and licenses under `X-API-Key`. How to add
//! a route: `rampart_http::openapi`'s module doc.

use std::collections::BTreeMap;

use utoipa::{OpenApi, ToSchema};

use super::admin::{CustomerChanges, NewCustomer, RotateOptions};
use super::usage::Report;
use rampart_http::openapi::{
    BadRequest, Conflict, InsufficientScope, NotFound, RateLimited, TierLimits, Unprocessable,
};

#[derive(OpenApi)]
#[openapi(paths(
    create,
    list,
    one,
    change,
    remove,
    customer_usage,
    rotate,
    revoke,
    report,
    summary,
    current_license,
    jwks
))]
struct Api;

/// The customer part of `billing-api`'s document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// A customer.
#[derive(ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub company_name: String,
    pub tier: String,
    pub created_at: i64,
}

/// An API key's metadata: never its secret or hash.
#[derive(ToSchema)]
pub struct KeyView {
    pub id: String,
    /// The operator's label, if given.
    pub name: Option<String>,
    pub prefix: String,
    /// What the key may call: `usage:write`, `usage:read`, `licenses:read`.
    pub scopes: Vec<String>,
    /// Issued without a scope list: every scope, including ones added later.
    pub all_scopes: bool,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// When it stops working, if set.
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new customer and its first key, shown once.
#[derive(ToSchema)]
pub struct CreatedCustomer {
    pub customer: CustomerView,
    /// The whole key: `rk_live_<key id>_<secret>` (`rk_test_` outside production).
    pub api_key: String,
    pub key: KeyView,
}

/// A page of customers, newest first.
#[derive(ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<CustomerView>,
    pub cursor: Option<String>,
}

/// A customer and its keys.
#[derive(ToSchema)]
pub struct CustomerDetail {
    pub customer: CustomerView,
    pub api_keys: Vec<KeyView>,
}

/// The changed customer.
#[derive(ToSchema)]
pub struct ChangedCustomer {
    pub customer: CustomerView,
}

/// The deleted customer: its keys revoked, its usage kept.
#[derive(ToSchema)]
pub struct DeletedCustomer {
    pub id: String,
    pub deleted_at: i64,
    /// The keys that worked until now.
    pub revoked_key_ids: Vec<String>,
}

/// A new key (shown once) and when the old ones stop working.
#[derive(ToSchema)]
pub struct RotatedKey {
    pub api_key: String,
    pub key: KeyView,
    pub old_keys_expire_at: Option<i64>,
    pub old_key_ids: Option<Vec<String>>,
}

/// The revoked key.
#[derive(ToSchema)]
pub struct RevokedKey {
    pub key: KeyView,
}

/// A recorded usage event.
#[derive(ToSchema)]
pub struct UsageEventView {
    pub event_id: String,
    pub metric: String,
    pub quantity: i64,
    pub occurred_at: i64,
    pub received_at: i64,
}

/// One metric on one UTC day.
#[derive(ToSchema)]
pub struct UsageRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub metric: String,
    pub quantity: i64,
}

/// A customer's usage per UTC day.
#[derive(ToSchema)]
pub struct UsageSummary {
    pub from: String,
    pub to: String,
    pub usage: Vec<UsageRow>,
    pub totals: BTreeMap<String, i64>,
}

/// A fresh license to verify offline against `/licenses/jwks.json`.
#[derive(ToSchema)]
pub struct LicenseView {
    /// EdDSA JWS: `header.claims.signature`.
    pub license: String,
    pub kid: String,
    pub tier: String,
    pub limits: TierLimits,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// One Ed25519 public key (RFC 8037).
#[derive(ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    pub x: String,
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    pub r#use: String,
}

/// The license verification keys.
#[derive(ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Creates a customer and its first API key (shown once).
#[utoipa::path(post, operation_id = "create_customer", path = "/admin/customers", tag = "operators", request_body = NewCustomer,
    responses(
        (status = 201, description = "Created.", body = CreatedCustomer,
            headers(("Location" = String, description = "The customer's URL."))),
        Conflict, RateLimited,
    ),
    security(("admin_bearer" = [])),
)]
pub fn create() {}

/// Lists customers, newest first.
#[utoipa::path(get, operation_id = "list_customers", path = "/admin/customers", tag = "operators",
    params(
        ("cursor" = Option<String>, Query, description = "From a previous page."),
        ("limit" = Option<u32>, Query, description = "1-100 (default 50)."),
    ),
    responses((status = 200, description = "A page.", body = CustomerPage), BadRequest, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn list() {}

/// One customer and its keys' metadata.
#[utoipa::path(get, operation_id = "get_customer", path = "/admin/customers/{id}", tag = "operators",
    params(("id" = String, Path, description = "The customer id.")),
    responses((status = 200, description = "The customer.", body = CustomerDetail), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn one() {}

/// Changes a customer's tier, company name or contact email (only the members sent).
#[utoipa::path(patch, operation_id = "update_customer", path = "/admin/customers/{id}", tag = "operators",
    params(("id" = String, Path, description = "The customer id.")),
    request_body = CustomerChanges,
    responses((status = 200, description = "Changed.", body = ChangedCustomer), NotFound, Conflict, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn change() {}

/// Deletes a customer: revokes its keys at once, keeps its usage; a second time is 404.
#[utoipa::path(delete, operation_id = "delete_customer", path = "/admin/customers/{id}", tag = "operators",
    params(("id" = String, Path, description = "The customer id.")),
    responses((status = 200, description = "Deleted.", body = DeletedCustomer), NotFound, Conflict, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn remove() {}

/// A customer's usage per UTC day: the report its own key reads (default the last 30 days).
#[utoipa::path(get, operation_id = "get_customer_usage", path = "/admin/customers/{id}/usage", tag = "operators",
    params(
        ("id" = String, Path, description = "The customer id."),
        ("from" = Option<String>, Query, description = "`YYYY-MM-DD`."),
        ("to" = Option<String>, Query, description = "`YYYY-MM-DD`; at most 92 days after `from`."),
    ),
    responses((status = 200, description = "The summary.", body = UsageSummary), BadRequest, NotFound, Unprocessable, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn customer_usage() {}

/// Issues a new key, optionally named, scoped and expiring; with `expires_in_secs` every key
/// working now stops then.
#[utoipa::path(post, operation_id = "rotate_customer_key", path = "/admin/customers/{id}/api-keys", tag = "operators",
    params(("id" = String, Path, description = "The customer id.")),
    request_body(content = Option<RotateOptions>, description = "Optional."),
    responses((status = 201, description = "The new key.", body = RotatedKey), NotFound, Conflict, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn rotate() {}

/// Revokes a key at once (repeating it changes nothing).
#[utoipa::path(delete, operation_id = "revoke_customer_key", path = "/admin/customers/{id}/api-keys/{key_id}", tag = "operators",
    params(
        ("id" = String, Path, description = "The customer id."),
        ("key_id" = String, Path, description = "The key id."),
    ),
    responses((status = 200, description = "Revoked.", body = RevokedKey), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn revoke() {}

/// Reports usage; a repeat of the same `event_id` and body answers the first result.
#[utoipa::path(post, operation_id = "report_usage", path = "/usage", tag = "instances", request_body = Report,
    responses(
        (status = 202, description = "Recorded.", body = UsageEventView),
        (status = 200, description = "A replay: nothing counted.", body = UsageEventView,
            headers(("Idempotent-Replayed" = String, description = "`true`."))),
        InsufficientScope, RateLimited,
    ),
    security(("api_key" = [])),
)]
pub fn report() {}

/// The caller's usage per UTC day (default the last 30 days).
#[utoipa::path(get, operation_id = "usage_summary", path = "/usage/summary", tag = "instances",
    params(
        ("from" = Option<String>, Query, description = "`YYYY-MM-DD`."),
        ("to" = Option<String>, Query, description = "`YYYY-MM-DD`; at most 92 days after `from`."),
    ),
    responses((status = 200, description = "The summary.", body = UsageSummary), BadRequest, InsufficientScope, Unprocessable, RateLimited),
    security(("api_key" = [])),
)]
pub fn summary() {}

/// A fresh license for the caller's tier.
#[utoipa::path(get, operation_id = "current_license", path = "/licenses/current", tag = "instances",
    responses((status = 200, description = "The license.", body = LicenseView), InsufficientScope, RateLimited),
    security(("api_key" = [])),
)]
pub fn current_license() {}

/// The public keys licenses are signed with (cacheable 5 minutes).
#[utoipa::path(get, operation_id = "license_jwks", path = "/licenses/jwks.json", tag = "instances",
    responses((status = 200, description = "The JWKS.", body = Jwks), RateLimited),
    security(()),
)]
pub fn jwks() {}
