//! Completing a sign-in with the second factor (`POST /auth/2fa/verify`): the challenge's
//! `mfa_token` and a TOTP code or a recovery code. Every guess counts against the same
//! consecutive-failure throttle and budget as the first factor (NIST SP 800-63B 5.2.2), through
//! the gate of the client asking; the challenge and the factor are used up in one conditional
//! transaction, so a code signs in once even when requests race; then the session starts on
//! the one issuance path every sign-in takes.

use std::net::IpAddr;

use serde_json::json;

use super::challenge::{self, active_totp};
use super::device::{self, Device};
use super::factor::{self, Offered, Use};
use super::login::SignIn;
use super::records::load_account;
use super::session::{self, generation_is};
use super::throttle::Factor;
use super::{email_hash, throttle};
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Tx, TxError};

/// The parts of using up the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Complete {
    /// The challenge is still there (each is used once).
    Challenge,
    /// The code is unused: a later TOTP step than the last, or a recovery code not yet spent.
    UseFactor,
}

fn bad_code() -> ApiError {
    ApiError::Unauthorized("The code is invalid or was already used.".into())
}

/// Checks the second factor of the sign-in `mfa_token` started; signs in when it is right.
pub async fn verify(
    state: &AppState,
    mfa_token: &str,
    offered: Offered<'_>,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<SignIn, ApiError> {
    let ch = challenge::open(state, mfa_token).await?;
    let expired = || ApiError::Unauthorized("The sign-in step expired; sign in again.".into());
    let Some((user, _)) = load_account(&*state.store, &ch.user_id).await? else {
        return Err(expired());
    };
    let Some(totp_item) = active_totp(state, &user.id).await? else {
        return Err(expired());
    };
    let eh = email_hash(state, &user.email).await?;
    let gate = throttle::gate(state, &eh, Some(&user), device).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let Some(used) = factor::usable(state, &totp_item, offered).await? else {
        throttle::failed(state, &claim, Factor::SecondFactor, &user.id, ip).await;
        return Err(bad_code());
    };
    let tx = Tx::new().delete(Complete::Challenge, ch.key(), Some(Condition::Exists));
    let tx = used.add_to(tx, Complete::UseFactor, &user.id, false);
    match tx.commit(&*state.store).await {
        Ok(()) => {}
        Err(TxError::Canceled {
            part: Complete::UseFactor,
            ..
        }) => {
            throttle::failed(state, &claim, Factor::SecondFactor, &user.id, ip).await;
            return Err(bad_code());
        }
        Err(TxError::Canceled {
            part: Complete::Challenge,
            ..
        }) => return Err(expired()),
        Err(e) => return Err(e.into()),
    }
    throttle::succeeded(state, &claim).await?;
    if let Use::RecoveryCode(_) = used {
        let left = factor::recovery_code_keys(state, &user.id).await?.len();
        let detail = json!({ "codes_left": left, "for": "sign_in" });
        rampart_http::audit::record(state, "recovery_code_used", &user.id, ip, detail).await;
    }
    // A password change or reset since the first factor voids the sign-in.
    let method = format!("{}+{}", ch.method, offered.method());
    let same_gen = Some(generation_is(ch.session_gen));
    let issued = session::start(state, &user.id, ip, &method, same_gen).await?;
    Ok(SignIn {
        issued,
        device_cookie: device::after_sign_in(state, device, &user.id, user.device_gen).await?,
        password_removed: None,
    })
}
