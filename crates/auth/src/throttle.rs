//! Failed sign-in throttles: who an attempt counts against, and whether it may go ahead.
//!
//! - An attempt from a device trusted for the account (`device`) counts against that device
//!   only: after 5 consecutive failures the device waits, exponentially longer each time, and
//!   the account is never slowed (OWASP Authentication Cheat Sheet, "Device cookies"). So the
//!   owner on a known device can always sign in while the account is hammered from elsewhere.
//! - Every other attempt (no device cookie, or another account's) counts against the account as
//!   seen from unknown clients: a sliding-window budget (`limits::untrusted_login_budget`), the
//!   same exponential backoff after 5 consecutive failures, and a hard cap of 100 consecutive
//!   failures (NIST SP 800-63B 5.2.2), past which unknown clients are refused until a success
//!   from a trusted device, an email-code sign-in or a password reset.
//!
//! Each attempt is counted (and the backoff for the next one set) by a compare-and-swap before
//! its secret is checked, so parallel guesses cannot slip past the count; a success resets it.
//! The account side is keyed by the address's keyed hash, so an address without an account is
//! throttled exactly like one with: the 429 reveals nothing.

use std::net::IpAddr;

use serde_json::json;

use super::device::{Device, trusted_for};
use super::limits::untrusted_login_budget;
use super::records::{FailureCount, User};
use rampart_http::ratelimit;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::metrics::{self, Metric};
use rampart_store::{Condition, Key, StoreError, keys, load};

/// Consecutive failures after which each further attempt waits (OWASP Authentication Cheat
/// Sheet: slow down, do not lock; the number).
pub const BACKOFF_AFTER: i64 = 5;
/// The first wait, doubled with each further failure...
pub const BACKOFF_BASE_SECS: i64 = 30;
/// ...up to this (our choice: the owner who mistyped waits at most a quarter of an hour, an
/// attacker gets at most 96 tries a day before the cap).
pub const BACKOFF_MAX_SECS: i64 = 15 * 60;
/// NIST SP 800-63B 5.2.2: at most 100 consecutive failed attempts on one account.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 100;
/// Compare-and-swap rounds before a hotly contended count answers 429 (only a flood of
/// parallel attempts on one subject gets there).
const CAS_ROUNDS: usize = 16;

/// The secret a failed attempt got wrong: the `method` label of `login_failure`, so operators
/// tell guesses at the second factor from password guesses (OWASP Logging Cheat Sheet:
/// authentication failures are logged with what failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Password,
    /// An emailed sign-in code.
    Code,
    /// A TOTP code or a recovery code.
    SecondFactor,
}

impl Factor {
    pub fn label(self) -> &'static str {
        match self {
            Factor::Password => "password",
            Factor::Code => "code",
            Factor::SecondFactor => "totp",
        }
    }
}

/// What an attempt counts against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// A device trusted for the account.
    Device(Device),
    /// The account as seen from clients it does not know (by the address's keyed hash).
    Account { email_hash: String },
}

impl Gate {
    fn key(&self) -> Key {
        match self {
            Gate::Device(d) => keys::device_failures(&d.user_id, &d.device_id),
            Gate::Account { email_hash } => keys::account_failures(email_hash),
        }
    }

    fn scope(&self) -> &'static str {
        match self {
            Gate::Device(_) => "device",
            Gate::Account { .. } => "account",
        }
    }
}

/// An admitted attempt: which of the consecutive attempts it is.
#[derive(Debug, Clone)]
pub struct Claim {
    pub gate: Gate,
    pub email_hash: String,
    pub attempt: i64,
}

/// The wait before the attempt after `failures` consecutive failures.
pub fn backoff_secs(failures: i64) -> i64 {
    if failures < BACKOFF_AFTER {
        return 0;
    }
    let doublings = (failures - BACKOFF_AFTER).min(20) as u32;
    (BACKOFF_BASE_SECS << doublings).min(BACKOFF_MAX_SECS)
}

/// The one 429 every throttled attempt gets, device or account, existing or not.
fn throttled(retry_after_secs: i64) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: retry_after_secs.max(1) as u64,
        headers: Default::default(),
    }
}

/// Where an attempt for the address `email_hash` (account `user`, if any) from a client with
/// the device cookie `device` counts. A device that used up the cap itself loses its trust.
pub async fn gate(
    state: &AppState,
    email_hash: &str,
    user: Option<&User>,
    device: Option<&Device>,
) -> Result<Gate, ApiError> {
    let account = || Gate::Account {
        email_hash: email_hash.into(),
    };
    let Some(d) = user.and_then(|u| trusted_for(device, u)) else {
        return Ok(account());
    };
    let gate = Gate::Device(d.clone());
    let count = load::<FailureCount>(&*state.store, &gate.key()).await?;
    Ok(match count {
        Some(c) if c.failures >= MAX_CONSECUTIVE_FAILURES => account(),
        _ => gate,
    })
}

/// Admits one attempt through `gate` or answers 429, counting it before the secret is checked.
pub async fn admit(state: &AppState, gate: Gate, email_hash: &str) -> Result<Claim, ApiError> {
    let store = &*state.store;
    let key = gate.key();
    let mut budget_spent = false;
    for _ in 0..CAS_ROUNDS {
        let now = state.clock.now_secs();
        let stored = load::<FailureCount>(store, &key).await?;
        let current = stored
            .clone()
            .unwrap_or_else(|| FailureCount::clean(key.clone()));
        if current.failures >= MAX_CONSECUTIVE_FAILURES {
            return Err(throttled(BACKOFF_MAX_SECS));
        }
        if current.next_at > now {
            return Err(throttled(current.next_at - now));
        }
        if let (Gate::Account { .. }, false) = (&gate, budget_spent) {
            let d = ratelimit::check_hashed(state, &untrusted_login_budget(), email_hash).await?;
            if !d.allowed {
                return Err(throttled(d.reset_secs as i64));
            }
            budget_spent = true;
        }
        let attempt = current.failures + 1;
        let next = FailureCount {
            key: key.clone(),
            failures: attempt,
            next_at: now + backoff_secs(attempt),
            expires_at: now + rampart_platform::lifetimes::FAILURE_COUNT_SECS,
        };
        let unchanged = match &stored {
            None => Condition::NotExists,
            Some(c) => Condition::Exists
                .and(Condition::eq(FailureCount::FAILURES, c.failures))
                .and(Condition::eq(FailureCount::NEXT_AT, c.next_at)),
        };
        match store.put((&next).into(), Some(unchanged)).await {
            Ok(()) => {
                return Ok(Claim {
                    gate,
                    email_hash: email_hash.into(),
                    attempt,
                });
            }
            // Another attempt counted first: look again.
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(throttled(1))
}

/// Counts and audits a failed attempt at `factor` (`subject`: the user id, or `email:<hash>`
/// without an account), and the moments the backoff starts and the cap is reached.
pub async fn failed(
    state: &AppState,
    claim: &Claim,
    factor: Factor,
    subject: &str,
    ip: Option<IpAddr>,
) {
    count_failure(factor);
    rampart_http::audit::record(
        state,
        "login_failure",
        subject,
        ip,
        json!({ "throttle": claim.gate.scope() }),
    )
    .await;
    let milestone = match claim.attempt {
        BACKOFF_AFTER => Some("lockout"),
        MAX_CONSECUTIVE_FAILURES => Some("login_capped"),
        _ => None,
    };
    if let Some(kind) = milestone {
        let detail = json!({ "throttle": claim.gate.scope(), "failures": claim.attempt });
        rampart_http::audit::record(state, kind, subject, ip, detail).await;
    }
}

fn count_failure(factor: Factor) {
    metrics::count(Metric::LoginFailure, &[("method", factor.label())]);
}

/// A success resets the count it was admitted through, and the account's count from unknown
/// clients: a success on a trusted device lifts the cap for them too.
pub async fn succeeded(state: &AppState, claim: &Claim) -> Result<(), ApiError> {
    if let Gate::Device(_) = claim.gate {
        let (pk, sk) = claim.gate.key();
        state.store.delete(&pk, &sk, None).await?;
    }
    clear_account(state, &claim.email_hash).await
}

/// Resets the account's count from unknown clients: an email-code sign-in or a password reset
/// proved the owner holds the mailbox.
pub async fn clear_account(state: &AppState, email_hash: &str) -> Result<(), ApiError> {
    let (pk, sk) = keys::account_failures(email_hash);
    state.store.delete(&pk, &sk, None).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_five_failures_up_to_its_ceiling() {
        let waits: Vec<i64> = (1..=12).map(backoff_secs).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900, 900],
            "the sixth attempt is the first that waits"
        );
        assert_eq!(backoff_secs(1_000), BACKOFF_MAX_SECS);
    }

    #[test]
    fn a_wrong_second_factor_is_counted_as_totp_not_password() {
        let registry = metrics::Registry::new("auth-api");
        metrics::counting(&registry, || {
            count_failure(Factor::SecondFactor);
            count_failure(Factor::Password);
            count_failure(Factor::SecondFactor);
        });
        let failures = |m| registry.value(Metric::LoginFailure, &[("method", m)]);
        assert_eq!((failures("totp"), failures("password")), (2, 1));
    }
}
