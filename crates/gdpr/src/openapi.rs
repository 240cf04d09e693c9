//! The contract of the GDPR routes (`gdpr-api`, `gdpr::routes`): the user's export and erasure
//! under `/account`, the operator's view of an erasure. How to add a route: `rampart_http::openapi`'s
//! module doc.

use utoipa::{OpenApi, ToSchema};

use super::erasure::Confirm;
use rampart_http::openapi::{Forbidden, NotFound, RateLimited};

#[derive(OpenApi)]
#[openapi(paths(account_export, account_delete, admin_erasure))]
struct Api;

/// The GDPR part of `gdpr-api`'s document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// Everything the user owns, one section per kind (see the table in docs/gdpr.md): `profile`,
/// `sessions`, `pending_codes`, `idempotency_records`, `audit_events`, `mails`, `orders`,
/// `payments`, `esims`, `customers`, `api_keys`, `consents`, and `stripe` (invoices, or a note
/// when Stripe could not be reached). Never a token, hash or secret.
#[derive(ToSchema)]
pub struct AccountExport {
    /// `rampart-export/1`.
    pub format: String,
    pub generated_at: i64,
    #[schema(value_type = Object)]
    pub profile: serde_json::Value,
    #[schema(value_type = Object)]
    pub stripe: serde_json::Value,
}

/// An erasure begun (or found again).
#[derive(ToSchema)]
pub struct ErasureAccepted {
    pub erasure_id: String,
    /// `erasing`, `held` (waits for a legal hold) or `erased`.
    pub status: String,
}

/// What an operator sees of an erasure: no user id, no personal data.
#[derive(ToSchema)]
pub struct ErasureView {
    pub erasure_id: String,
    /// `erasing`, `held` or `erased`.
    pub status: String,
    /// What anonymised financial records point to now.
    pub tombstone_id: String,
    pub requested_at: i64,
    pub erased_at: Option<i64>,
    pub steps_done: Vec<String>,
    pub steps_pending: Vec<String>,
    /// `null` when the user had no Stripe customer.
    pub stripe_customer_deleted: Option<bool>,
    pub items_erased: i64,
    pub items_anonymised: i64,
}

/// Downloads everything the account owns as a JSON attachment (10 an hour).
#[utoipa::path(get, path = "/account/export", tag = "account",
    responses(
        (status = 200, description = "The export, as `rampart-export-<date>.json`.", body = AccountExport,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"rampart-export-<date>.json\"`."))),
        RateLimited,
    ),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn account_export() {}

/// Deletes the account: every session ends at once, the rest follows (1 an hour). Asks for
/// every factor the account has: with TOTP on, a `totp_code` or a `recovery_code` too.
#[utoipa::path(post, path = "/account/delete", tag = "account", request_body = Confirm,
    responses(
        (status = 202, description = "Erasure begun, or the one already begun.", body = ErasureAccepted),
        Forbidden, RateLimited,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn account_delete() {}

/// An erasure's progress.
#[utoipa::path(get, path = "/admin/erasures/{id}", tag = "operators",
    params(("id" = String, Path, description = "The erasure id.")),
    responses((status = 200, description = "The erasure.", body = ErasureView), NotFound, RateLimited),
    security(("admin_bearer" = [])),
)]
pub fn admin_erasure() {}
