//! Authentication: passwords, email codes, sessions with rotating refresh tokens, access tokens,
//! cookies with CSRF protection, and the extractor every function uses to know who is calling.
//!
//! Layout: `records` (the stored kinds, each mapped once), `account` (registration, lookup, and
//! the owner of an address taking an unverified account back), `verify` (address verification),
//! `login` (password sign-in and change), `codes` (email codes), `reset` (password reset),
//! `session` (sessions and their absolute lifetime), `sessions` (the user listing and ending
//! their own), `client` (the coarse client class a session records), `suspension` (an operator
//! suspending an account), `refresh` (rotation, grace and reuse),
//! `device` (device cookies), `throttle` (failed sign-in backoff and cap), `limits` (every auth
//! rate limit), `links` (the app pages the mails link to), `http` (the route handlers `auth-api` mounts), and the building blocks
//! (`password`, `jwt`, `cookies`, `csrf`, `extract`, `operator`). The second factor: `totp`
//! (RFC 6238), `factor` (a code as offered and its single use), `enrol` (setup, confirmation,
//! recovery codes, disabling), `challenge` (the step between the factors), `second_factor`
//! (completing a sign-in), `http_2fa` (their handlers). Sign-in with Google and GitHub:
//! `oauth` (the flow, the ID token, linking the identity to an account, the handlers).
//!
//! Standards: OWASP ASVS (V2 authentication; 5.0 V7 session management), the OWASP
//! Authentication, Password Storage, Session Management and CSRF cheat sheets, RFC 8725 (JWT),
//! RFC 9700 (refresh token rotation, reuse detection and grace), NIST SP 800-63B 5.2.2
//! (throttling).

pub mod account;
pub mod challenge;
pub mod client;
pub mod closing;
pub mod code;
pub mod codes;
pub mod cookies;
pub mod csrf;
pub mod device;
pub mod enrol;
pub mod extract;
pub mod factor;
pub mod http;
pub mod http_2fa;
pub mod jwt;
pub mod limits;
pub mod links;
pub mod login;
pub mod oauth;
pub mod openapi;
pub mod operator;
pub mod owned;
pub mod owners;
pub mod password;
pub mod reauth;
pub mod records;
pub mod refresh;
pub mod reset;
pub mod second_factor;
pub mod session;
pub mod sessions;
pub mod suspension;
pub mod throttle;
pub mod totp;
pub mod verify;

pub use extract::{AuthUser, AuthVia};
pub use records::{
    EmailLink, EmailVerification, FailureCount, IdentityLink, LinkedIdentity, Otp, PasswordReset,
    RefreshStatus, RefreshToken, Session, Suspension, User,
};

use rampart_http::state::AppState;
use rampart_platform::error::{ApiError, FieldError};
use rampart_platform::secrets::{JWT_SIGNING_KEYS, parse_keyed_list};

/// Lowercased, trimmed email, or why it is not one.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let bad = || FieldError::new(field, "must be an email address");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    // A conservative plain address (RFC 5321 dot-atom local part, LDH domain labels): no
    // display names, comments or quoting that a mail provider might fold into one mailbox
    // while each spelling got its own account and its own rate-limit bucket.
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = |s: &str, ok: &dyn Fn(char) -> bool| {
        !s.is_empty()
            && s.split('.')
                .all(|part| !part.is_empty() && part.chars().all(ok))
    };
    if local.len() > 64 || !dot_atom(local, &atext) {
        return Err(bad());
    }
    let label = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if !domain.contains('.')
        || !dot_atom(domain, &label)
        || domain
            .split('.')
            .any(|l| l.starts_with('-') || l.ends_with('-') || l.len() > 63)
    {
        return Err(bad());
    }
    Ok(email)
}

/// The keyed hash that stands in for an email in keys and audit events.
pub async fn email_hash(state: &AppState, email: &str) -> Result<String, ApiError> {
    let pepper = state.hash_pepper().await?;
    Ok(rampart_platform::crypto::keyed_hash(
        &pepper, "email", email,
    ))
}

/// The accepted signing keys `(kid, key)` to verify a token naming `kid`: the current secret
/// version's when it holds `kid`, else with the previous version's. When `kid` is new to this
/// process the secret is re-read first (a rotation just happened).
pub async fn signing_keys(
    state: &AppState,
    kid: Option<&str>,
) -> Result<Vec<(String, String)>, ApiError> {
    let needle = kid.map(|k| format!("{k}:"));
    let versions = state
        .secrets
        .versions_matching(JWT_SIGNING_KEYS, |v| {
            needle
                .as_ref()
                .is_none_or(|n| v.split(',').any(|e| e.trim().starts_with(n.as_str())))
        })
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let mut keys = Vec::new();
    for v in versions {
        keys.extend(parse_keyed_list(&v).map_err(ApiError::internal)?);
    }
    if keys.is_empty() {
        return Err(ApiError::Unavailable(
            "no JWT signing key configured".into(),
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email("email", "  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "a@.com",
            "x<victim@example.com>",
            "victim@example.com(1)",
            "\"v\"@example.com",
            "a@b@example.com",
            "ü@example.com",
            "a..b@example.com",
        ] {
            assert!(normalize_email("email", bad).is_err(), "{bad}");
        }
    }
}
