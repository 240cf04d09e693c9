//! Cookies. Web clients get `access_token` (HttpOnly), `refresh_token` (HttpOnly, path `/auth`
//! only) and `csrf_token` (readable by scripts, for the double submit), none outliving the
//! session's absolute end; every client that signs in gets `device` (HttpOnly, 180 days, see
//! `device`). All are `SameSite=Lax`. With Secure cookies (always in production) they carry
//! the `__Host-` prefix (Secure, no Domain, Path=/) or, for the path-limited refresh cookie,
//! `__Secure-`.

use axum::http::{HeaderMap, HeaderValue, header};

use super::session::Issued;

/// 180 days (the OWASP Authentication Cheat Sheet's device cookies leave the lifetime
/// to the application); each sign-in on the device issues it afresh.
pub const DEVICE_TTL_SECS: i64 = 180 * 86_400;

#[derive(Debug, Clone, Copy)]
pub struct Names {
    pub access: &'static str,
    pub refresh: &'static str,
    pub csrf: &'static str,
    pub device: &'static str,
}

pub fn names(secure: bool) -> Names {
    if secure {
        Names {
            access: "__Host-access_token",
            refresh: "__Secure-refresh_token",
            csrf: "__Host-csrf_token",
            device: "__Host-device",
        }
    } else {
        Names {
            access: "access_token",
            refresh: "refresh_token",
            csrf: "csrf_token",
            device: "device",
        }
    }
}

fn cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    http_only: bool,
    secure: bool,
) -> String {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

fn append(headers: &mut HeaderMap, c: String) {
    if let Ok(v) = HeaderValue::from_str(&c) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// The session cookies of a sign-in or refresh, each expiring with what it carries.
pub fn set(headers: &mut HeaderMap, secure: bool, issued: &Issued) {
    let n = names(secure);
    let (access_age, refresh_age) = (issued.expires_in, issued.refresh_expires_in);
    append(
        headers,
        cookie(
            n.access,
            &issued.access_token,
            "/",
            access_age,
            true,
            secure,
        ),
    );
    append(
        headers,
        cookie(
            n.refresh,
            &issued.refresh_token,
            "/auth",
            refresh_age,
            true,
            secure,
        ),
    );
    append(
        headers,
        cookie(n.csrf, &issued.csrf_token, "/", refresh_age, false, secure),
    );
}

/// The device cookie a sign-in sets (logout leaves it: it is no credential).
pub fn set_device(headers: &mut HeaderMap, secure: bool, value: &str) {
    let n = names(secure);
    append(
        headers,
        cookie(n.device, value, "/", DEVICE_TTL_SECS, true, secure),
    );
}

pub fn clear(headers: &mut HeaderMap, secure: bool) {
    let n = names(secure);
    append(headers, cookie(n.access, "", "/", 0, true, secure));
    append(headers, cookie(n.refresh, "", "/auth", 0, true, secure));
    append(headers, cookie(n.csrf, "", "/", 0, false, secure));
}

/// The value of a request cookie.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}
