//! Re-authentication before an irreversible act (deleting the account): the password, or for an
//! account without one a fresh email code (used up by the check), counted against the sign-in
//! throttle like a login attempt (NIST SP 800-63B 5.2.2). Another domain asks for it with
//! `confirm`; the credentials it checks stay auth's.

use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, StoreError, keys, load};

use crate::records::{Otp, User};
use crate::{code, password, throttle};

/// What the user offers: the password, or a fresh code for an account without one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered<'a> {
    pub password: Option<&'a str>,
    pub code: Option<&'a str>,
}

/// Checks `offered` for `user`; `why` ends the 422 when it is missing ("is required to delete the
/// account"). 403 naming the field when it is wrong.
pub async fn confirm(
    state: &AppState,
    user: &User,
    offered: Offered<'_>,
    why: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    let (field, given) = match user.password_hash {
        Some(_) => ("password", offered.password),
        None => ("code", offered.code),
    };
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Err(ApiError::Validation(vec![FieldError::new(field, why)]));
    };
    let eh = crate::email_hash(state, &user.email).await?;
    let gate = throttle::gate(state, &eh, Some(user), None).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let ok = match &user.password_hash {
        Some(stored) => password::verify_off_thread(given.to_string(), stored.clone()).await?,
        None => code_ok(state, &eh, &user.email, given).await?,
    };
    if !ok {
        throttle::failed(state, &claim, &user.id, ip).await;
        return Err(ApiError::Forbidden(format!("The {field} is not correct.")));
    }
    throttle::succeeded(state, &claim).await
}

/// A code-only account's fresh code: matches the address's live code, which is then used up.
async fn code_ok(state: &AppState, eh: &str, email: &str, code: &str) -> Result<bool, ApiError> {
    let pepper = state.hash_pepper().await?;
    let Some(otp) = load::<Otp>(&*state.store, &keys::otp(eh)).await? else {
        return Ok(false);
    };
    if !code::code_matches(&pepper, "otp", email, code, &otp.code_hash) {
        return Ok(false);
    }
    let (pk, sk) = otp.key();
    let this_code = Condition::eq(Otp::CODE_HASH, otp.code_hash.as_str());
    match state.store.delete(&pk, &sk, Some(this_code)).await {
        Ok(Some(_)) => Ok(true),
        Ok(None) | Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
