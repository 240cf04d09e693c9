//! Feature limits for signed-in users: `require`, the check every flow calls before giving a
//! user one more of something, answering 403 `tier-limit` naming the feature, the limit and the
//! tier that lifts it. The table itself is `rampart_platform::tiers` (settings hold it).

use axum::http::StatusCode;

pub use rampart_platform::tiers::{Feature, Limits, Table, Tier};

use crate::account::Billed;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// `Ok` when a holder of `tier` using `current` of `f` may have one more; 403 `tier-limit`
/// otherwise.
pub fn require_on(table: &Table, tier: Tier, f: Feature, current: u64) -> Result<(), ApiError> {
    match table.refusal(tier, f, current) {
        None => Ok(()),
        Some(detail) => Err(ApiError::coded(StatusCode::FORBIDDEN, "tier-limit", detail)),
    }
}

/// The tier `user` holds: an owner or test account (`OWNER_ACCOUNT_IDS`) holds `OWNER_TIER`
/// without ever paying for it (no checkout, customer or subscription can exist for it); anyone
/// else their stored plan (an unknown plan counts as free).
pub fn of_user(state: &AppState, acct: &Billed) -> Tier {
    let account = rampart_stripe::Account::new(&acct.user.id, &acct.user.email);
    if rampart_stripe::is_owner(&state.settings.owner_account_ids, &account) {
        return state.settings.owner_tier;
    }
    Tier::of_plan(&acct.billing.plan)
}

/// May `user` (on their tier, `of_user`) have one more of `f` when they already use `current`?
pub fn require(state: &AppState, acct: &Billed, f: Feature, current: u64) -> Result<(), ApiError> {
    require_on(&state.settings.tiers, of_user(state, acct), f, current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_a_403_tier_limit_problem() {
        let t = Table::default();
        assert!(require_on(&t, Tier::Starter, Feature::PrivateRepos, 4).is_ok());
        let err = require_on(&t, Tier::Free, Feature::PrivateRepos, 0).unwrap_err();
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        let msg = err.to_string();
        assert!(msg.starts_with("tier-limit: "), "{msg}");
        assert!(msg.contains("the starter tier lifts it"), "{msg}");
    }
}
