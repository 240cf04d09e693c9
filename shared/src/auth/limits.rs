//! Every auth rate limit in one table: the per-IP (and per-address) limits in front of the
//! routes, and the per-account attempt throttles the login, code and password-change flows
//! claim before they check a secret.

use std::time::Duration;

use crate::error::ApiError;
use crate::ratelimit::{self, KeyPart, Rule};
use crate::state::AppState;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// NIST SP 800-63B §5.2.2 allows at most 100 consecutive failures per account; we lock far
/// earlier: 10 failures within 15 minutes lock further attempts for the rest of that window.
pub const MAX_LOGIN_FAILURES: i64 = 10;
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// Code guesses per account per day, across codes (NIST SP 800-63B §5.2.2 caps consecutive
/// failures per account at 100; we stop at 10).
pub const OTP_MAX_FAILURES_PER_DAY: i64 = 10;

/// The route limits, by route.
pub struct Rules {
    pub login: Vec<Rule>,
    pub register: Vec<Rule>,
    pub refresh: Vec<Rule>,
    pub forgot: Vec<Rule>,
    pub reset: Vec<Rule>,
    pub otp: Vec<Rule>,
    pub otp_verify: Vec<Rule>,
    pub forgot_email: Vec<Rule>,
}

/// The auth route limits. Login and refresh from the issue; email-code limits from the eSIM
/// seed (per email+IP 1 per 60 s and 5 per 24 h, per IP 25 per 24 h); the rest are our choice.
/// `otp` and `forgot_email` are keyed by the address too, so their handlers enforce them once
/// the body is read; the others are IP-only layers in front of the route.
pub fn rules() -> Rules {
    Rules {
        login: vec![Rule::new("login_ip", 5, MINUTE, &[KeyPart::Ip])],
        register: vec![Rule::new("register_ip", 20, HOUR, &[KeyPart::Ip])],
        refresh: vec![Rule::new("refresh_ip", 10, MINUTE, &[KeyPart::Ip])],
        forgot: vec![Rule::new("forgot_ip", 3, HOUR, &[KeyPart::Ip])],
        reset: vec![Rule::new("reset_ip", 10, HOUR, &[KeyPart::Ip])],
        otp: vec![
            Rule::new(
                "otp_email_ip_min",
                1,
                MINUTE,
                &[KeyPart::Email, KeyPart::Ip],
            ),
            Rule::new("otp_email_ip_day", 5, DAY, &[KeyPart::Email, KeyPart::Ip]),
            Rule::new("otp_ip_day", 25, DAY, &[KeyPart::Ip]),
            // Whatever the IP: an attacker with many addresses gets no more codes (and so no
            // more guesses) for one account. Our choice, on top of the seed's numbers.
            Rule::new("otp_email_day", 10, DAY, &[KeyPart::Email]),
        ],
        otp_verify: vec![Rule::new("otp_verify_ip", 30, MINUTE, &[KeyPart::Ip])],
        forgot_email: vec![Rule::new("forgot_email_day", 5, DAY, &[KeyPart::Email])],
    }
}

/// The per-account attempt throttles: the shared rate limiter (one conditional ADD per attempt,
/// so concurrent guesses cannot all slip in under the limit), keyed by the email's keyed hash.
/// A success clears the window.
pub fn login_throttle() -> Rule {
    Rule::new(
        "login_account",
        MAX_LOGIN_FAILURES as u32,
        Duration::from_secs(FAILURE_WINDOW_SECS as u64),
        &[KeyPart::Email],
    )
}

pub fn code_throttle() -> Rule {
    Rule::new(
        "otp_account",
        OTP_MAX_FAILURES_PER_DAY as u32,
        DAY,
        &[KeyPart::Email],
    )
}

/// Counts one attempt before the secret is checked; past the limit, 429 until the window ends.
/// Returns which attempt of the window this is.
pub async fn claim_attempt(
    state: &AppState,
    rule: &Rule,
    email_hash: &str,
) -> Result<i64, ApiError> {
    let d = ratelimit::check_hashed(state, rule, email_hash).await?;
    if !d.allowed {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: d.reset_secs,
            headers: Default::default(),
        });
    }
    Ok(i64::from(d.limit - d.remaining))
}

/// A success ends the account's window of failed attempts.
pub async fn clear_attempts(
    state: &AppState,
    rule: &Rule,
    email_hash: &str,
) -> Result<(), ApiError> {
    ratelimit::clear_hashed(state, rule, email_hash).await
}
