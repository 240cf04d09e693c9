//! Cookies. Web clients get `access_token` (HttpOnly), `refresh_token` (HttpOnly, path `/auth`
//! only) and `csrf_token` (readable by scripts, for the double submit), none outliving the
//! session's absolute end; every client that signs in gets `device` (HttpOnly, 180 days, see
//! `device`). All carry the `SameSite` of `COOKIE_SAMESITE` (Lax by default).
//!
//! With Secure cookies (always in production) the names carry a prefix the browser enforces
//! (RFC 6265bis, cookie name prefixes): `__Host-` (Secure, no Domain, Path=/: no other host can
//! set or overwrite it) by default; `__Secure-` for the path-limited refresh cookie and, when
//! `COOKIE_DOMAIN` is set, for the access and CSRF cookies, which then carry `Domain` so sibling
//! hosts under it receive them. The refresh and device cookies stay host-only even then: only
//! this API's `/auth` routes read them, and a `Domain` cookie reaches every host under the
//! domain (OWASP Session Management Cheat Sheet: keep the cookie's scope as narrow as it can be).

use axum::http::{HeaderMap, HeaderValue, header};
use rampart_platform::config::Settings;

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

/// The cookie names these settings give: the one place that decides them, for writing and
/// reading alike.
pub fn names(settings: &Settings) -> Names {
    match (settings.cookie_secure, settings.cookie_domain.is_some()) {
        (false, _) => Names {
            access: "access_token",
            refresh: "refresh_token",
            csrf: "csrf_token",
            device: "device",
        },
        (true, false) => Names {
            access: "__Host-access_token",
            refresh: "__Secure-refresh_token",
            csrf: "__Host-csrf_token",
            device: "__Host-device",
        },
        // `__Host-` forbids `Domain`; `__Secure-` still makes the browser refuse the name from
        // a response that is not over https.
        (true, true) => Names {
            access: "__Secure-access_token",
            refresh: "__Secure-refresh_token",
            csrf: "__Secure-csrf_token",
            device: "__Host-device",
        },
    }
}

/// Where a cookie is valid.
#[derive(Clone, Copy)]
enum Scope {
    /// This host only.
    Host,
    /// `COOKIE_DOMAIN` when set (sibling hosts read it), else this host only.
    Site,
}

struct Cookie<'a> {
    name: &'a str,
    value: &'a str,
    path: &'a str,
    max_age: i64,
    http_only: bool,
    scope: Scope,
    /// `SameSite=Lax` whatever `COOKIE_SAMESITE` says (the sign-in provider flow's cookie).
    lax: bool,
}

impl Cookie<'_> {
    fn render(&self, settings: &Settings) -> String {
        let mut c = format!(
            "{}={}; Path={}; Max-Age={}; SameSite={}",
            self.name,
            self.value,
            self.path,
            self.max_age,
            if self.lax {
                "Lax"
            } else {
                settings.cookie_same_site.as_str()
            }
        );
        if let (Scope::Site, Some(domain)) = (self.scope, &settings.cookie_domain) {
            c.push_str("; Domain=");
            c.push_str(domain);
        }
        if self.http_only {
            c.push_str("; HttpOnly");
        }
        if settings.cookie_secure {
            c.push_str("; Secure");
        }
        c
    }
}

fn append(headers: &mut HeaderMap, settings: &Settings, c: Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&c.render(settings)) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// The three session cookies with these values and lifetimes (zero: cleared). A cookie is
/// cleared with the same name, path and domain it was set with, or the browser keeps it.
fn session_cookies(
    headers: &mut HeaderMap,
    settings: &Settings,
    (access, refresh, csrf): (&str, &str, &str),
    (access_age, refresh_age): (i64, i64),
) {
    let n = names(settings);
    append(
        headers,
        settings,
        Cookie {
            name: n.access,
            value: access,
            path: "/",
            max_age: access_age,
            http_only: true,
            scope: Scope::Site,
            lax: false,
        },
    );
    append(
        headers,
        settings,
        Cookie {
            name: n.refresh,
            value: refresh,
            path: "/auth",
            max_age: refresh_age,
            http_only: true,
            scope: Scope::Host,
            lax: false,
        },
    );
    append(
        headers,
        settings,
        Cookie {
            name: n.csrf,
            value: csrf,
            path: "/",
            max_age: refresh_age,
            http_only: false,
            scope: Scope::Site,
            lax: false,
        },
    );
}

/// The session cookies of a sign-in or refresh, each expiring with what it carries.
pub fn set(headers: &mut HeaderMap, settings: &Settings, issued: &Issued) {
    session_cookies(
        headers,
        settings,
        (
            &issued.access_token,
            &issued.refresh_token,
            &issued.csrf_token,
        ),
        (issued.expires_in, issued.refresh_expires_in),
    );
}

/// The device cookie a sign-in sets (logout leaves it: it is no credential).
pub fn set_device(headers: &mut HeaderMap, settings: &Settings, value: &str) {
    append(
        headers,
        settings,
        Cookie {
            name: names(settings).device,
            value,
            path: "/",
            max_age: DEVICE_TTL_SECS,
            http_only: true,
            scope: Scope::Host,
            lax: false,
        },
    );
}

/// The name of the cookie that binds a sign-in provider flow to the browser that started it
/// (`oauth::state`): `__Host-` with Secure cookies, like the session's, so a sibling subdomain
/// cannot plant a flow of its own (a `__Secure-` cookie may be set with `Domain=` by any host
/// of the parent domain: login CSRF, RFC 9700 §4.7; RFC 6265bis cookie name prefixes).
pub fn oauth_flow_name(settings: &Settings) -> &'static str {
    if settings.cookie_secure {
        "__Host-oauth_flow"
    } else {
        "oauth_flow"
    }
}

/// Where the flow cookie is sent: `/`, which `__Host-` requires; it lives ten minutes and is
/// cleared when the flow ends.
pub const OAUTH_FLOW_PATH: &str = "/";

/// The flow cookie (`max_age` zero: cleared). HttpOnly, this host only, and `SameSite=Lax` whatever `COOKIE_SAMESITE` says: the provider sends the browser
/// back with a cross-site top-level GET, on which a Lax cookie is sent and a Strict one is not
/// (RFC 6265bis §5.4.7).
pub fn set_oauth_flow(headers: &mut HeaderMap, settings: &Settings, value: &str, max_age: i64) {
    append(
        headers,
        settings,
        Cookie {
            name: oauth_flow_name(settings),
            value,
            path: OAUTH_FLOW_PATH,
            max_age,
            http_only: true,
            scope: Scope::Host,
            lax: true,
        },
    );
}

pub fn clear(headers: &mut HeaderMap, settings: &Settings) {
    session_cookies(headers, settings, ("", "", ""), (0, 0));
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        Settings::from_lookup(|k| m.get(k).map(|v| v.to_string())).unwrap()
    }

    fn issued() -> Issued {
        Issued {
            user_id: "u".into(),
            session_id: "s".into(),
            access_token: "at".into(),
            refresh_token: "rt".into(),
            csrf_token: "ct".into(),
            expires_in: 900,
            refresh_expires_in: 604_800,
        }
    }

    fn rendered(s: &Settings) -> Vec<String> {
        let mut h = HeaderMap::new();
        set(&mut h, s, &issued());
        set_device(&mut h, s, "dv");
        h.get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn host_only_secure_cookies_by_default() {
        let c = rendered(&settings(&[("COOKIE_SECURE", "true")]));
        assert_eq!(
            c,
            [
                "__Host-access_token=at; Path=/; Max-Age=900; SameSite=Lax; HttpOnly; Secure",
                "__Secure-refresh_token=rt; Path=/auth; Max-Age=604800; SameSite=Lax; HttpOnly; Secure",
                "__Host-csrf_token=ct; Path=/; Max-Age=604800; SameSite=Lax; Secure",
                "__Host-device=dv; Path=/; Max-Age=15552000; SameSite=Lax; HttpOnly; Secure",
            ]
        );
    }

    #[test]
    fn the_sign_in_flow_cookie_is_host_only_and_lax_even_with_a_domain_and_strict_cookies() {
        let s = settings(&[
            ("COOKIE_SECURE", "true"),
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_SAMESITE", "strict"),
        ]);
        let mut h = HeaderMap::new();
        set_oauth_flow(&mut h, &s, "flow", 600);
        assert_eq!(
            h[header::SET_COOKIE],
            "__Host-oauth_flow=flow; Path=/; Max-Age=600; SameSite=Lax; HttpOnly; Secure"
        );
    }

    #[test]
    fn a_cookie_domain_scopes_only_the_access_and_csrf_cookies() {
        let s = settings(&[
            ("COOKIE_SECURE", "true"),
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_SAMESITE", "strict"),
        ]);
        let c = rendered(&s);
        assert_eq!(
            c,
            [
                "__Secure-access_token=at; Path=/; Max-Age=900; SameSite=Strict; Domain=example.com; HttpOnly; Secure",
                "__Secure-refresh_token=rt; Path=/auth; Max-Age=604800; SameSite=Strict; HttpOnly; Secure",
                "__Secure-csrf_token=ct; Path=/; Max-Age=604800; SameSite=Strict; Domain=example.com; Secure",
                "__Host-device=dv; Path=/; Max-Age=15552000; SameSite=Strict; HttpOnly; Secure",
            ]
        );
        let mut h = HeaderMap::new();
        clear(&mut h, &s);
        let cleared: Vec<&str> = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            cleared,
            [
                "__Secure-access_token=; Path=/; Max-Age=0; SameSite=Strict; Domain=example.com; HttpOnly; Secure",
                "__Secure-refresh_token=; Path=/auth; Max-Age=0; SameSite=Strict; HttpOnly; Secure",
                "__Secure-csrf_token=; Path=/; Max-Age=0; SameSite=Strict; Domain=example.com; Secure",
            ],
            "cleared with the attributes they were set with"
        );
    }

    #[test]
    fn no_prefix_without_secure() {
        let c = rendered(&settings(&[("COOKIE_DOMAIN", "example.test")]));
        assert!(c[0].starts_with("access_token=at;") && c[0].contains("Domain=example.test"));
        assert!(c.iter().all(|c| !c.contains("Secure")), "{c:?}");
    }
}
