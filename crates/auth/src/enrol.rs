//! Turning the TOTP factor on and off for the signed-in user: setup (a pending secret, shown
//! once), confirmation by a first code (the secret becomes active and ten recovery codes are
//! handed out, shown once, stored as keyed hashes only), and disabling, which takes a fresh
//! second factor besides the session (OWASP Multifactor Authentication Cheat Sheet: changing
//! the factors needs the factors). Each change is audited.

use std::net::IpAddr;

use serde_json::json;

use super::device::Device;
use super::factor::{self, Offered};
use super::records::{RecoveryCode, Totp, User};
use super::throttle::Factor;
use super::{email_hash, throttle, totp};
use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, EXPIRES_AT, StoreError, Tx, TxError, Update, keys, load};

/// A pending secret waits this long for its first code: 15 minutes (our choice: time to
/// install an authenticator app; a forgotten setup does not linger).
pub const PENDING_TTL_SECS: i64 = 15 * 60;

/// A new secret, shown once.
#[derive(Debug, Clone)]
pub struct Setup {
    pub secret: String,
    pub otpauth_uri: String,
    pub expires_in: i64,
}

fn already_on() -> ApiError {
    ApiError::Conflict("Two-factor authentication is already on; disable it first.".into())
}

/// `POST /auth/2fa/totp/setup`: a pending secret for `user` (replacing a pending one).
pub async fn setup(state: &AppState, user: &User) -> Result<Setup, ApiError> {
    // A factor on an address nobody proved would be the registrant's, not the owner's, and
    // would outlive the owner taking the account back.
    if !user.email_verified {
        return Err(ApiError::Forbidden(
            "Verify the email address before turning on two-factor authentication.".into(),
        ));
    }
    let pepper = state.hash_pepper().await?;
    let (secret, sealed) = factor::new_secret(&pepper, &user.id);
    let now = state.clock.now_secs();
    let pending = Totp {
        user_id: user.id.clone(),
        secret_sealed: sealed,
        active: false,
        last_step: 0,
        created_at: now,
        expires_at: Some(now + PENDING_TTL_SECS),
    };
    let not_active = Condition::NotExists.or(Condition::eq(Totp::ACTIVE, false));
    match state.store.put((&pending).into(), Some(not_active)).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => return Err(already_on()),
        Err(e) => return Err(e.into()),
    }
    let secret = totp::base32(&secret);
    Ok(Setup {
        otpauth_uri: totp::otpauth_uri(&user.email, &secret),
        secret,
        expires_in: PENDING_TTL_SECS,
    })
}

/// The parts of turning the factor on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirm {
    /// The pending secret the code was checked against becomes active.
    Activate,
    /// Codes of an earlier enrolment go.
    DropOldCodes,
    StoreRecoveryCodes,
}

/// `POST /auth/2fa/totp/confirm`: activates the pending secret with its current code; returns
/// the recovery codes (the only time they are shown).
pub async fn confirm(
    state: &AppState,
    user: &User,
    code: &str,
    ip: Option<IpAddr>,
) -> Result<Vec<String>, ApiError> {
    let wrong = || {
        ApiError::Validation(vec![FieldError::new(
            "code",
            "is not the current code of the new secret",
        )])
    };
    let pending = load::<Totp>(&*state.store, &keys::totp(&user.id)).await?;
    let pending = match pending {
        Some(t) if t.active => return Err(already_on()),
        Some(t) => t,
        None => {
            return Err(ApiError::Conflict(
                "No pending secret: start with POST /auth/2fa/totp/setup.".into(),
            ));
        }
    };
    let pepper = state.hash_pepper().await?;
    let secret = factor::secret_of(&pepper, &pending)?;
    let step = totp::matching_step(&secret, code, state.clock.now_secs()).ok_or_else(wrong)?;
    let codes = factor::new_recovery_codes();
    let now = state.clock.now_secs();
    // The confirming code is used: it cannot sign in afterwards.
    let activate = Update::new()
        .set(Totp::ACTIVE, true)
        .set(Totp::LAST_STEP, step)
        .remove(EXPIRES_AT);
    let same_pending = Condition::Exists
        .and(Condition::eq(Totp::ACTIVE, false))
        .and(Condition::eq(
            Totp::SECRET_SEALED,
            pending.secret_sealed.as_str(),
        ));
    let mut tx = Tx::new().update(
        Confirm::Activate,
        keys::totp(&user.id),
        activate,
        Some(same_pending),
    );
    for key in factor::recovery_code_keys(state, &user.id).await? {
        tx = tx.delete(Confirm::DropOldCodes, key, None);
    }
    for code in &codes {
        let hash = factor::recovery_hash(&pepper, &user.id, code)
            .ok_or_else(|| ApiError::internal("a new recovery code does not hash"))?;
        let rc = RecoveryCode {
            user_id: user.id.clone(),
            code_hash: hash,
            created_at: now,
        };
        tx = tx.put(
            Confirm::StoreRecoveryCodes,
            (&rc).into(),
            Some(Condition::NotExists),
        );
    }
    tx.commit(&*state.store).await.map_err(|e| match e {
        TxError::Canceled {
            part: Confirm::Activate,
            ..
        } => ApiError::Conflict("The pending secret changed meanwhile; set up again.".into()),
        other => ApiError::from(other),
    })?;
    rampart_http::audit::record(state, "totp_enabled", &user.id, ip, json!({})).await;
    Ok(codes)
}

/// The parts of turning the factor off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disable {
    /// The offered factor is used up (a TOTP code: with the secret itself).
    UseFactor,
    RemoveSecret,
    RemoveRecoveryCodes,
}

/// `POST /auth/2fa/totp/disable`: with a current code or a recovery code, counted against the
/// sign-in throttle like any guess at a factor (NIST SP 800-63B 5.2.2); 403 when wrong.
pub async fn disable(
    state: &AppState,
    user: &User,
    offered: Offered<'_>,
    ip: Option<IpAddr>,
    device: Option<&Device>,
) -> Result<(), ApiError> {
    let Some(t) = load::<Totp>(&*state.store, &keys::totp(&user.id)).await? else {
        return Err(ApiError::Conflict(
            "Two-factor authentication is off.".into(),
        ));
    };
    if !t.active {
        return Err(ApiError::Conflict(
            "Two-factor authentication is off.".into(),
        ));
    }
    let eh = email_hash(state, &user.email).await?;
    let gate = throttle::gate(state, &eh, Some(user), device).await?;
    let claim = throttle::admit(state, gate, &eh).await?;
    let wrong = || ApiError::Forbidden("The second factor is not correct.".into());
    let Some(used) = factor::usable(state, &t, offered).await? else {
        throttle::failed(state, &claim, Factor::SecondFactor, &user.id, ip).await;
        return Err(wrong());
    };
    let mut tx = used.add_to(Tx::new(), Disable::UseFactor, &user.id, true);
    if let factor::Use::RecoveryCode(_) = used {
        let active = Condition::eq(Totp::ACTIVE, true);
        tx = tx.delete(Disable::RemoveSecret, keys::totp(&user.id), Some(active));
    }
    for key in factor::recovery_code_keys(state, &user.id).await? {
        if !matches!(&used, factor::Use::RecoveryCode(k) if *k == key) {
            tx = tx.delete(Disable::RemoveRecoveryCodes, key, None);
        }
    }
    match tx.commit(&*state.store).await {
        Ok(()) => {}
        Err(TxError::Canceled {
            part: Disable::UseFactor,
            ..
        }) => {
            throttle::failed(state, &claim, Factor::SecondFactor, &user.id, ip).await;
            return Err(wrong());
        }
        Err(TxError::Canceled { .. }) => {
            return Err(ApiError::Conflict(
                "Two-factor authentication changed meanwhile; try again.".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    throttle::succeeded(state, &claim).await?;
    if let Offered::RecoveryCode(_) = offered {
        let detail = json!({ "codes_left": 0, "for": "disable" });
        rampart_http::audit::record(state, "recovery_code_used", &user.id, ip, detail).await;
    }
    let detail = json!({ "with": offered.method() });
    rampart_http::audit::record(state, "totp_disabled", &user.id, ip, detail).await;
    Ok(())
}
