//! One email code: how it is made (six uniform digits), stored (a keyed hash, never the code),
//! compared (constant time) and guessed at (a bounded, atomic count per code). Sign-in codes,
//! address verification and re-authentication all use these.

use rampart_http::state::AppState;
use rampart_platform::crypto::{constant_time_eq, keyed_hash, random_bytes};
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, Key, StoreError, Update};

/// Email codes: valid 10 minutes (OWASP Authentication Cheat Sheet: short-lived).
pub const OTP_TTL_SECS: i64 = rampart_platform::lifetimes::OTP_SECS;
/// Wrong guesses a code allows before it is burned (OWASP Authentication Cheat Sheet: few tries
/// per code; the module comment gives the odds, NIST SP 800-63B 5.2.2 the ceiling).
pub const OTP_MAX_ATTEMPTS: i64 = 5;

/// A uniformly random 6-digit code (rejection sampling: no modulo bias).
pub(crate) fn six_digits() -> String {
    loop {
        let b = random_bytes(4);
        let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// The keyed hash a code is stored as; `purpose` keeps sign-in and verification codes apart.
pub(crate) fn code_hash(pepper: &[u8], purpose: &str, email: &str, code: &str) -> String {
    keyed_hash(pepper, purpose, &format!("{email}\u{1f}{code}"))
}

pub(crate) fn bad_code() -> ApiError {
    ApiError::Unauthorized("The code is invalid or expired.".into())
}

/// Whether `code` is what `stored_hash` was made of; malformed codes never match.
pub(crate) fn code_matches(
    pepper: &[u8],
    purpose: &str,
    email: &str,
    code: &str,
    stored_hash: &str,
) -> bool {
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let given = code_hash(pepper, purpose, email, code);
    well_formed && constant_time_eq(given.as_bytes(), stored_hash.as_bytes())
}

/// Counts a guess against the code at `key`, atomically (a sixth guess is refused even when
/// many race), and returns the code as it stands. A code out of guesses is deleted (burned).
pub(crate) async fn count_guess<R>(
    state: &AppState,
    key: Key,
    attempts_attr: &str,
) -> Result<R, ApiError>
where
    R: for<'a> TryFrom<&'a Item, Error = StoreError>,
{
    let (pk, sk) = key;
    let bumped = state
        .store
        .update(
            &pk,
            &sk,
            Update::new().add(attempts_attr, 1),
            Some(Condition::Exists.and(Condition::lt(attempts_attr, OTP_MAX_ATTEMPTS))),
        )
        .await;
    match bumped {
        Ok(item) => Ok(R::try_from(&item)?),
        Err(StoreError::ConditionFailed { existing }) => {
            if existing.is_some() {
                // Burned: gone for good (but never a newer code that replaced it a moment ago).
                let dead = Condition::ge(attempts_attr, OTP_MAX_ATTEMPTS).or(Condition::Expired);
                match state.store.delete(&pk, &sk, Some(dead)).await {
                    Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(bad_code())
        }
        Err(e) => Err(e.into()),
    }
}
