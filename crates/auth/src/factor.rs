//! The second factor as offered: a TOTP code or a recovery code, which of the two a request
//! carries, whether it can be right, and the conditional write that uses it up, so each code
//! counts once even when requests race (RFC 6238 §5.2: a code is accepted once; the last
//! accepted time step is kept and only a later one passes). Also the secret's sealing and the
//! recovery codes' making and hashing.

use rampart_http::state::AppState;
use rampart_platform::crypto::{keyed_hash, open, random_bytes, seal};
use rampart_platform::error::{ApiError, FieldError};
use rampart_store::{Condition, Key, Tx, Update, keys, query_all};

use super::records::Totp;
use super::totp;

/// OWASP Multifactor Authentication Cheat Sheet (recovery codes): a handful of single-use
/// codes handed out at enrolment; ten is the common count.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code: 10 base32 characters, 50 bits, well over NIST SP 800-63B
/// 5.1.2.1's 20 bits for a look-up secret under a throttled verifier.
const RECOVERY_CODE_CHARS: usize = 10;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The second factor a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Offered<'a> {
    Totp(&'a str),
    RecoveryCode(&'a str),
}

impl<'a> Offered<'a> {
    /// Exactly one of `code` and `recovery_code`, or 422 naming the field.
    pub fn from_fields(code: Option<&'a str>, recovery: Option<&'a str>) -> Result<Self, ApiError> {
        Self::named("code", code, recovery, "is required (or a recovery_code)")
    }

    /// Exactly one of a TOTP code sent as `totp_field` and `recovery_code`, or 422 naming the
    /// field; `why` is the message when both are missing.
    pub fn named(
        totp_field: &str,
        code: Option<&'a str>,
        recovery: Option<&'a str>,
        why: &str,
    ) -> Result<Self, ApiError> {
        let given = |v: Option<&'a str>| v.filter(|s| !s.trim().is_empty());
        match (given(code), given(recovery)) {
            (Some(c), None) => Ok(Self::Totp(c)),
            (None, Some(r)) => Ok(Self::RecoveryCode(r)),
            (Some(_), Some(_)) => Err(ApiError::Validation(vec![FieldError::new(
                "recovery_code",
                format!("send either {totp_field} or recovery_code, not both"),
            )])),
            (None, None) => Err(ApiError::Validation(vec![FieldError::new(totp_field, why)])),
        }
    }

    /// For the audit and the session's sign-in method.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Totp(_) => "totp",
            Self::RecoveryCode(_) => "recovery_code",
        }
    }
}

/// What a factor that may be right uses up.
#[derive(Debug, Clone)]
pub enum Use {
    /// The TOTP time step its code matched.
    Step(i64),
    /// The recovery code's item (whether it exists the write's condition decides).
    RecoveryCode(Key),
}

impl Use {
    /// Adds the write that uses the factor up to `tx` as `part`; with `remove_secret` (disabling)
    /// the TOTP item goes in the same write. The write fails its condition when the code was
    /// used (or never existed).
    pub fn add_to<P: Copy + std::fmt::Debug>(
        &self,
        tx: Tx<P>,
        part: P,
        user_id: &str,
        remove_secret: bool,
    ) -> Tx<P> {
        let active = Condition::eq(Totp::ACTIVE, true);
        match self {
            Self::Step(step) => {
                let later = active.and(Condition::lt(Totp::LAST_STEP, *step));
                if remove_secret {
                    tx.delete(part, keys::totp(user_id), Some(later))
                } else {
                    let used = Update::new().set(Totp::LAST_STEP, *step);
                    tx.update(part, keys::totp(user_id), used, Some(later))
                }
            }
            Self::RecoveryCode(key) => tx.delete(part, key.clone(), Some(Condition::Exists)),
        }
    }
}

/// The write that would use `offered` up, or `None` when it cannot be right (a TOTP code of no
/// step in the window, or of a step already used; a malformed recovery code).
pub async fn usable(
    state: &AppState,
    totp_item: &Totp,
    offered: Offered<'_>,
) -> Result<Option<Use>, ApiError> {
    let pepper = state.hash_pepper().await?;
    Ok(match offered {
        Offered::Totp(code) => {
            let secret = secret_of(&pepper, totp_item)?;
            totp::matching_step(&secret, code, state.clock.now_secs())
                .filter(|step| *step > totp_item.last_step)
                .map(Use::Step)
        }
        Offered::RecoveryCode(code) => recovery_hash(&pepper, &totp_item.user_id, code)
            .map(|h| Use::RecoveryCode(keys::recovery_code(&totp_item.user_id, &h))),
    })
}

/// A new secret and its sealed form, bound to the user (`crypto::seal`: AES-256-GCM under a key
/// derived from the hash pepper for this purpose only).
pub fn new_secret(pepper: &[u8], user_id: &str) -> (Vec<u8>, String) {
    let secret = random_bytes(totp::SECRET_BYTES);
    let sealed = seal(pepper, "totp", user_id, &secret);
    (secret, sealed)
}

/// The secret of `t`, unsealed.
pub fn secret_of(pepper: &[u8], t: &Totp) -> Result<Vec<u8>, ApiError> {
    open(pepper, "totp", &t.user_id, &t.secret_sealed)
        .ok_or_else(|| ApiError::internal("a stored TOTP secret does not open"))
}

/// Ten fresh recovery codes, `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            // 256 is a multiple of 32: masking keeps every character uniform.
            let chars: String = random_bytes(RECOVERY_CODE_CHARS)
                .iter()
                .map(|b| ALPHABET[usize::from(b & 31)] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// The keyed hash a recovery code is stored as (case, spaces and dashes do not matter), or
/// `None` when it cannot be one.
pub fn recovery_hash(pepper: &[u8], user_id: &str, code: &str) -> Option<String> {
    let norm: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let ok = norm.len() == RECOVERY_CODE_CHARS && norm.bytes().all(|b| ALPHABET.contains(&b));
    ok.then(|| keyed_hash(pepper, "recovery", &format!("{user_id}\u{1f}{norm}")))
}

/// The keys of the user's unused recovery codes.
pub async fn recovery_code_keys(state: &AppState, user_id: &str) -> Result<Vec<Key>, ApiError> {
    let (pk, _) = keys::user(user_id);
    let items = query_all(&*state.store, &pk, Some(keys::RECOVERY_CODE_PREFIX)).await?;
    Ok(items.into_iter().map(|i| (i.pk, i.sk)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_and_hash_whatever_their_spelling() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        let c = &codes[0];
        assert_eq!(c.len(), 11);
        let h = recovery_hash(b"p", "u1", c).unwrap();
        assert_eq!(
            recovery_hash(b"p", "u1", &c.to_uppercase().replace('-', " ")),
            Some(h.clone())
        );
        assert_ne!(recovery_hash(b"p", "u2", c), Some(h), "bound to the user");
        assert_eq!(recovery_hash(b"p", "u1", "short"), None);
    }
}
