//! What operators see of a customer and of a key: never a key's secret or hash.

use serde_json::{Value as Json, json};

use crate::customers::record::{ApiKey, Customer, KeyState};
use crate::customers::scope;

pub fn customer_view(c: &Customer) -> Json {
    json!({
        "id": c.id,
        "email": c.email,
        "company_name": c.company_name,
        "tier": c.tier,
        "created_at": c.created_at,
    })
}

/// A key's metadata. `expires_at` is when it stops working, if set; `scopes` what it may do
/// (every scope for a key issued without a list, `all_scopes` saying so).
pub fn key_view(k: &ApiKey, now: i64) -> Json {
    let status = match k.state(now) {
        KeyState::Active => "active",
        KeyState::Revoked => "revoked",
        KeyState::Expired => "expired",
    };
    json!({
        "id": k.key_id,
        "name": k.name,
        "prefix": k.prefix,
        "scopes": scope::listed(k.scopes.as_ref()),
        "all_scopes": k.scopes.is_none(),
        "status": status,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "expires_at": k.valid_until,
        "revoked_at": k.revoked_at,
    })
}
