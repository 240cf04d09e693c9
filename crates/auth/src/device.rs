//! Device cookies (OWASP Authentication Cheat Sheet, "Device cookies"): a successful sign-in
//! marks the client as a device the account knows, so failed sign-ins elsewhere never slow the
//! owner's own device down. The cookie names the account and a random device id, carries its
//! issue time and the account's device generation, and is signed with a key derived from the
//! hash pepper; it grants nothing by itself (a password or code is still needed), it only
//! decides which throttle an attempt counts against (`throttle`) and which code budget a code
//! request uses (`codes`).
//!
//! Taking an account back and resetting its password move the account's device generation on
//! (`User::device_gen`): whoever held the account before may have minted any number of
//! cookies, each with its own throttle and code budget, and none of them is trusted after
//! that. The owner's devices sign in again and get cookies of the new generation.

use axum::http::HeaderMap;

use super::cookies::{self, DEVICE_TTL_SECS};
use super::records::User;
use rampart_http::state::AppState;
use rampart_platform::crypto::{constant_time_eq, keyed_hash, random_id};
use rampart_platform::error::ApiError;

/// A cookie issued this far in the future is refused (clock skew between instances).
const ISSUED_LEEWAY_SECS: i64 = 60;

/// A device an account signed in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub user_id: String,
    pub device_id: String,
    /// The account's device generation when the cookie was minted.
    pub generation: i64,
}

fn mac(pepper: &[u8], payload: &str) -> String {
    keyed_hash(pepper, "device-cookie", payload)
}

/// The cookie value: `<user id>.<device id>.<issued at>.<generation>.<mac>` (ids are hex, the mac
/// base64url: no part contains a dot). A cookie minted before generations existed has no
/// generation part and reads as generation 0.
pub fn seal(pepper: &[u8], device: &Device, now: i64) -> String {
    let payload = format!(
        "{}.{}.{now}.{}",
        device.user_id, device.device_id, device.generation
    );
    let tag = mac(pepper, &payload);
    format!("{payload}.{tag}")
}

/// The device a cookie value names, if it is genuine and not expired.
pub fn open(pepper: &[u8], value: &str, now: i64) -> Option<Device> {
    let (payload, tag) = value.rsplit_once('.')?;
    if !constant_time_eq(tag.as_bytes(), mac(pepper, payload).as_bytes()) {
        return None;
    }
    let mut parts = payload.split('.');
    let (user_id, device_id, issued) = (parts.next()?, parts.next()?, parts.next()?);
    let issued: i64 = issued.parse().ok()?;
    let generation: i64 = match parts.next() {
        Some(g) => g.parse().ok()?,
        None => 0,
    };
    let current = issued <= now + ISSUED_LEEWAY_SECS && now < issued + DEVICE_TTL_SECS;
    (current && parts.next().is_none() && !user_id.is_empty() && !device_id.is_empty()).then(|| {
        Device {
            user_id: user_id.into(),
            device_id: device_id.into(),
            generation,
        }
    })
}

/// The device a request's cookie names, if the cookie is genuine and current.
pub async fn presented(state: &AppState, headers: &HeaderMap) -> Result<Option<Device>, ApiError> {
    let name = cookies::names(&state.settings).device;
    let Some(value) = cookies::get(headers, name) else {
        return Ok(None);
    };
    let pepper = state.hash_pepper().await?;
    Ok(open(&pepper, &value, state.clock.now_secs()))
}

/// Whether a cookie is one the account `user_id`, now at device generation `generation`, still
/// trusts: minted for that account, at its current generation.
fn trusted(d: &Device, user_id: &str, generation: i64) -> bool {
    d.user_id == user_id && d.generation >= generation
}

/// The presented device if it is one the account `user` signed in on since its last take-back
/// or reset; a cookie of another account (a shared computer) or of an older generation makes
/// the client as unknown as no cookie.
pub fn trusted_for<'a>(device: Option<&'a Device>, user: &User) -> Option<&'a Device> {
    device.filter(|d| trusted(d, &user.id, user.device_gen))
}

/// The cookie value a sign-in of `user_id` (at device generation `generation`) sets: the same
/// device id when the client was already trusted by the account (its failure count stays with
/// it), else a new one.
pub async fn after_sign_in(
    state: &AppState,
    presented: Option<&Device>,
    user_id: &str,
    generation: i64,
) -> Result<String, ApiError> {
    let device = Device {
        user_id: user_id.into(),
        device_id: presented
            .filter(|d| trusted(d, user_id, generation))
            .map_or_else(random_id, |d| d.device_id.clone()),
        generation,
    };
    let pepper = state.hash_pepper().await?;
    Ok(seal(&pepper, &device, state.clock.now_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_genuine_current_cookies_name_a_device() {
        let d = Device {
            user_id: "u1".into(),
            device_id: "d1".into(),
            generation: 0,
        };
        let v = seal(b"pepper", &d, 1_000);
        assert_eq!(open(b"pepper", &v, 1_000), Some(d.clone()));
        assert_eq!(open(b"pepper", &v, 1_000 + DEVICE_TTL_SECS - 1), Some(d));
        assert_eq!(
            open(b"pepper", &v, 1_000 + DEVICE_TTL_SECS),
            None,
            "expired"
        );
        assert_eq!(open(b"other pepper", &v, 1_000), None, "another key");
        let forged = v.replacen("u1", "u2", 1);
        assert_eq!(open(b"pepper", &forged, 1_000), None, "another account");
        assert_eq!(open(b"pepper", "u1.d1.1000", 1_000), None, "unsigned");
        assert_eq!(open(b"pepper", &v, 1_000 - 61), None, "from the future");
    }

    #[test]
    fn a_cookie_carries_its_generation_and_older_ones_are_not_trusted() {
        let d = Device {
            user_id: "u1".into(),
            device_id: "d1".into(),
            generation: 2,
        };
        let v = seal(b"pepper", &d, 1_000);
        assert_eq!(open(b"pepper", &v, 1_000), Some(d.clone()));
        let tampered = v.replacen(".2.", ".3.", 1);
        assert_eq!(open(b"pepper", &tampered, 1_000), None, "signed");
        // A cookie from before generations: `<user>.<device>.<issued>.<mac>` reads as 0.
        let payload = "u1.d1.1000";
        let old = format!("{payload}.{}", mac(b"pepper", payload));
        let opened = open(b"pepper", &old, 1_000).unwrap();
        assert_eq!(opened.generation, 0);
        let mut user = User::new("u1", "a@example.com", None, true, 0);
        assert!(trusted_for(Some(&opened), &user).is_some());
        user.device_gen = 1;
        assert!(trusted_for(Some(&opened), &user).is_none(), "older");
        assert!(trusted_for(Some(&d), &user).is_some(), "current or newer");
    }
}
