//! Re-authentication before an irreversible act (deleting the account): the password, or for an
//! account without one a fresh email code (used up by the check), and, when the account has a
//! second factor, a current TOTP code or a recovery code (used up like at sign-in): OWASP ASVS
//! V2/V6 and NIST SP 800-63B 4.2 ask a sensitive operation for every factor the account has, so
//! a stolen password alone cannot erase a protected account. One attempt is counted against the
//! sign-in throttle like a login attempt (NIST SP 800-63B 5.2.2), whichever factor is wrong.
//! Another domain asks for it with `confirm`; the credentials it checks stay auth's.

use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, StoreError, Tx, TxError, keys, load};

use crate::challenge::active_totp;
use crate::factor;
use crate::records::{Otp, User};
use crate::throttle::Factor;
use crate::{code, password, throttle};

/// What the user offers: the password, or a fresh code for an account without one; and the
/// second factor for an account with one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered<'a> {
    pub password: Option<&'a str>,
    pub code: Option<&'a str>,
    /// A current code of the authenticator app...
    pub totp_code: Option<&'a str>,
    /// ...or one of the recovery codes.
    pub recovery_code: Option<&'a str>,
}

/// The one part of the write that uses the second factor up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UseFactor;

/// Checks `offered` for `user`; `why` ends the 422 when a factor is missing ("is required to
/// delete the account"), checked before anything is counted. 403 naming the field when one is
/// wrong, like a wrong password.
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
    let totp_item = active_totp(state, &user.id).await?;
    let second = match &totp_item {
        Some(_) => {
            let (code, recovery) = (offered.totp_code, offered.recovery_code);
            let why = format!("{why} (or a recovery_code): two-factor authentication is on");
            Some(factor::Offered::named("totp_code", code, recovery, &why)?)
        }
        None => None,
    };
    let eh = crate::email_hash(state, &user.email).await?;
    let gate = throttle::gate(state, &eh, Some(user), None).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let ok = match &user.password_hash {
        Some(stored) => password::verify_off_thread(given.to_string(), stored.clone()).await?,
        None => code_ok(state, &eh, &user.email, given).await?,
    };
    if !ok {
        let factor = match user.password_hash {
            Some(_) => Factor::Password,
            None => Factor::Code,
        };
        throttle::failed(state, &claim, factor, &user.id, ip).await;
        return Err(ApiError::Forbidden(format!("The {field} is not correct.")));
    }
    if let (Some(t), Some(offered)) = (&totp_item, second) {
        // The check and the conditional write the sign-in uses: a code counts once.
        let used = match factor::usable(state, t, offered).await? {
            Some(used) => used.add_to(Tx::new(), UseFactor, &user.id, false),
            None => return Err(wrong_factor(state, &claim, user, ip, offered).await),
        };
        match used.commit(&*state.store).await {
            Ok(()) => {}
            Err(TxError::Canceled { .. }) => {
                return Err(wrong_factor(state, &claim, user, ip, offered).await);
            }
            Err(e) => return Err(e.into()),
        }
    }
    throttle::succeeded(state, &claim).await
}

/// Counts a wrong (or already used) second factor; the 403 names the field it came in.
async fn wrong_factor(
    state: &AppState,
    claim: &throttle::Claim,
    user: &User,
    ip: Option<std::net::IpAddr>,
    offered: factor::Offered<'_>,
) -> ApiError {
    throttle::failed(state, claim, Factor::SecondFactor, &user.id, ip).await;
    let field = match offered {
        factor::Offered::Totp(_) => "totp_code",
        factor::Offered::RecoveryCode(_) => "recovery_code",
    };
    ApiError::Forbidden(format!("The {field} is not correct or was already used."))
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
