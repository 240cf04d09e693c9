//! Owner and test accounts (`OWNER_ACCOUNT_IDS`, by user id or email, case-insensitive): the
//! accounts no provider event may change and no charge may reach. The list names users by
//! either, so telling whether a user is one needs the user's address: auth's to read.

use rampart_http::state::AppState;
use rampart_store::{StoreError, keys, load};

use crate::records::User;

/// Whether a user is an owner or test account. A store error is an error, never a "no": owner
/// protection must not fail open.
pub async fn is_owner(state: &AppState, user_id: &str) -> Result<bool, StoreError> {
    let owners = &state.settings.owner_account_ids;
    if owners.is_empty() {
        return Ok(false);
    }
    if owners.iter().any(|o| o == &user_id.to_lowercase()) {
        return Ok(true);
    }
    let user: Option<User> = load(&*state.store, &keys::user(user_id)).await?;
    Ok(user.is_some_and(|u| {
        let e = u.email.to_lowercase();
        owners.iter().any(|o| o == &e)
    }))
}
