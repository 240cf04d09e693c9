//! What a caller may use and has used: the public tier table (with each paid tier's price, if
//! one is configured), and a user's limits with today's counted calls and the reset time.

use serde_json::{Value as Json, json};

use super::quota::{self, Metered};
use super::tiers::Tier;
use crate::account::Billed;
use crate::customers::date::{day_number, format_day};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// `GET /billing/tiers`.
pub fn tiers(state: &AppState) -> Json {
    let rows: Vec<Json> = Tier::ALL
        .into_iter()
        .map(|t| {
            let price = state.settings.price_of_tier(t.as_str());
            json!({
                "tier": t.as_str(),
                "limits": state.settings.tiers.limits(t),
                "price_id": price,
                "purchasable": t != Tier::Free && price.is_some(),
            })
        })
        .collect();
    json!({ "tiers": rows })
}

fn metered(state: &AppState, acct: &Billed) -> Metered {
    Metered::User {
        id: acct.user.id.clone(),
        tier: super::tiers::of_user(state, acct),
    }
}

/// `GET /billing/usage`: today's counted calls against the limit (this request is not one).
pub async fn usage(state: &AppState, acct: &Billed) -> Result<Json, ApiError> {
    let who = metered(state, acct);
    let (used, limit, reset) = quota::usage(state, &who).await?;
    let now = state.clock.now_secs();
    Ok(json!({
        "tier": who.tier().as_str(),
        "day": format_day(day_number(now)),
        "api_calls": {
            "used": used,
            "limit": limit,
            "remaining": limit.map(|l| (l as i64 - used).max(0)),
        },
        "resets_at": now + reset as i64,
    }))
}

/// `GET /billing/entitlements`: every limit of the caller's tier and today's usage.
pub async fn entitlements(state: &AppState, acct: &Billed) -> Result<Json, ApiError> {
    let who = metered(state, acct);
    let (used, _, reset) = quota::usage(state, &who).await?;
    Ok(json!({
        "tier": who.tier().as_str(),
        "limits": state.settings.tiers.limits(who.tier()),
        "usage": { "api_calls_per_day": used },
        "resets_at": state.clock.now_secs() + reset as i64,
    }))
}
