//! The settings a browser app's sign-in depends on: where the session cookies are valid
//! (`COOKIE_DOMAIN`), when browsers send them (`COOKIE_SAMESITE`), the origin browsers reach the
//! API at (`API_ORIGIN`) and how long an access token lasts (`ACCESS_TOKEN_TTL_SECS`). Each
//! refuses, at startup, a combination a browser cannot work with; docs/browser-apps.md says
//! which values go with which deployment. `table::SETTINGS` lists them after `COOKIE_SECURE`,
//! whose value two of them check.

use super::setting::{Fallback, Kind, Production, Setting};
use super::{Settings, parse};

/// When browsers attach the session cookies (RFC 6265bis, the `SameSite` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// The longest access token: 15 minutes (OWASP JWT Cheat Sheet: short-lived; every request
/// checks the session anyway, so this bounds only what a stolen token is worth offline).
const ACCESS_TTL_MAX_SECS: i64 = 900;

/// A cookie `Domain`: a host name of at least two LDH labels, lowercased, without the leading dot
/// RFC 6265bis ignores. A single label (`com`, `localhost`) or an IP address is refused: browsers
/// reject a public suffix as a cookie domain, and an IP address cannot have subdomains.
pub fn cookie_domain(raw: &str) -> Result<String, String> {
    let d = raw.strip_prefix('.').unwrap_or(raw).to_ascii_lowercase();
    let bad = || {
        format!(
            "must be a host name such as example.com (at least two labels; no scheme, port, path \
             or wildcard), got {raw:?}"
        )
    };
    let labels: Vec<&str> = d.split('.').collect();
    let ldh = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if d.len() > 253 || labels.len() < 2 || !labels.iter().all(ldh) {
        return Err(bad());
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok(d)
}

/// The host of an origin (`https://api.example.com:8443` -> `api.example.com`).
pub fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    match rest.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => rest,
    }
}

/// Whether a cookie with `Domain=domain` set by `host` is stored and sent back to it: the host
/// is the domain or one of its subdomains (RFC 6265bis, domain matching).
pub fn domain_covers(domain: &str, host: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

pub(super) const API_ORIGIN: Setting = Setting {
    name: "API_ORIGIN",
    kind: Kind::Url,
    default: Fallback::Unset("(unset: each request's `Host`)"),
    production: Some(Production {
        rule: "must be https",
        holds: |s| match &s.api_origin {
            Some(o) if !o.starts_with("https://") => Err(format!("got {o}")),
            _ => Ok(()),
        },
    }),
    doc: "the origin browsers call the API at, when the functions see another `Host` (behind CloudFront or a reverse proxy: the site's own origin; with a custom domain: e.g. `https://api.example.com`); cookie requests from it pass the Origin check, and `COOKIE_DOMAIN` must cover its host",
    apply: |s, v| {
        s.api_origin = match v {
            None => None,
            Some(raw) => match parse::origins(raw)?.as_slice() {
                [one] => Some(one.clone()),
                _ => return Err(format!("must be one origin, got {raw:?}")),
            },
        };
        Ok(())
    },
};

pub(super) const COOKIE_DOMAIN: Setting = Setting {
    name: "COOKIE_DOMAIN",
    kind: Kind::Text,
    default: Fallback::Unset("(unset: host-only cookies)"),
    production: Some(Production {
        rule: "needs `API_ORIGIN`, whose host it must cover",
        holds: |s| match (&s.cookie_domain, &s.api_origin) {
            (Some(_), None) => Err(
                "API_ORIGIN is unset, so nothing shows the API is served under this domain; \
                 browsers drop a cookie whose Domain does not cover the host that set it"
                    .into(),
            ),
            _ => Ok(()),
        },
    }),
    doc: "parent domain of the API and the web app (sibling hosts such as `app.example.com` and `api.example.com`): the access and CSRF cookies then carry `Domain` and the `__Secure-` prefix instead of `__Host-`; refused when it does not cover the host of `API_ORIGIN`. Unset is the narrower choice (see docs/browser-apps.md)",
    apply: |s, v| {
        s.cookie_domain = v.map(cookie_domain).transpose()?;
        if let (Some(domain), Some(origin)) = (&s.cookie_domain, &s.api_origin) {
            let host = origin_host(origin);
            if !domain_covers(domain, host) {
                return Err(format!(
                    "{domain} does not cover the API's host {host} (API_ORIGIN): browsers drop \
                     a cookie whose Domain is not the host that set it or one of its parents"
                ));
            }
        }
        Ok(())
    },
};

pub(super) const COOKIE_SAMESITE: Setting = Setting {
    name: "COOKIE_SAMESITE",
    kind: Kind::Choice,
    default: Fallback::Value("lax"),
    production: Some(Production {
        rule: "may be none only for an app on another site: with `CORS_ALLOWED_ORIGINS` and without `COOKIE_DOMAIN`",
        holds: |s| {
            match s.cookie_same_site {
            SameSite::None if s.cors_allowed_origins.is_empty() => Err(
                "no other origin may call the API (CORS_ALLOWED_ORIGINS is empty), so nothing needs cross-site cookies".into(),
            ),
            SameSite::None if s.cookie_domain.is_some() => Err(
                "with COOKIE_DOMAIN the app is on the API's site, where lax already sends the cookies".into(),
            ),
            _ => Ok(()),
        }
        },
    }),
    doc: "lax \\| strict \\| none: when browsers send the session cookies; lax and strict work for one origin and for sibling hosts of one site, none (cross-site app, third-party cookies) only with `COOKIE_SECURE` and is refused without it everywhere; the CSRF and Origin checks apply whatever the value",
    apply: |s, v| {
        s.cookie_same_site = match v.unwrap_or_default().to_ascii_lowercase().as_str() {
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            // Browsers drop a SameSite=None cookie without Secure (RFC 6265bis, storage model),
            // and without SameSite the double-submit CSRF token and the Origin check are all
            // that stand between another site and the session: they are never switched off.
            "none" if s.cookie_secure => SameSite::None,
            "none" => {
                return Err(
                    "none needs COOKIE_SECURE=true: browsers drop a SameSite=None cookie that is not Secure"
                        .into(),
                );
            }
            other => return Err(format!("must be lax, strict or none, got {other:?}")),
        };
        Ok(())
    },
};

pub(super) const ACCESS_TOKEN_TTL_SECS: Setting = Setting {
    name: "ACCESS_TOKEN_TTL_SECS",
    kind: Kind::Seconds,
    default: Fallback::Value("900"),
    production: Some(Production {
        rule: "must be at least 60",
        holds: |s| {
            // Each expiry costs the app a refresh, and refresh is limited per IP (10 a
            // minute): below a minute, a few tabs behind one address would run out.
            if s.access_token_ttl_secs < 60 {
                Err(format!("is {}", s.access_token_ttl_secs))
            } else {
                Ok(())
            }
        },
    }),
    doc: "lifetime of an access token and of its cookie (at most 900; tests use a few seconds)",
    apply: |s, v| {
        s.access_token_ttl_secs = parse::number(v.unwrap_or_default())?;
        if !(1..=ACCESS_TTL_MAX_SECS).contains(&s.access_token_ttl_secs) {
            return Err(format!("must be between 1 and {ACCESS_TTL_MAX_SECS}"));
        }
        Ok(())
    },
};

/// The Origin check's own origin when the function cannot tell it from `Host`.
impl Settings {
    /// Whether a browser page at `origin` (lowercase) is the API's own public origin.
    pub fn is_api_origin(&self, origin: &str) -> bool {
        self.api_origin.as_deref() == Some(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn production(extra: &[(&str, &str)]) -> Vec<String> {
        let mut pairs = vec![
            ("APP_ENV", "production"),
            ("TABLE_NAME", "t"),
            ("QUEUE_URL", "q"),
        ];
        pairs.extend_from_slice(extra);
        Settings::of_pairs(&pairs).unwrap().production_problems()
    }

    #[test]
    fn cookie_domains_are_parent_host_names() {
        assert_eq!(cookie_domain(".Example.COM").unwrap(), "example.com");
        assert_eq!(cookie_domain("example.test").unwrap(), "example.test");
        for bad in [
            "com",
            "localhost",
            "https://example.com",
            "example.com:443",
            "example.com/",
            "*.example.com",
            "127.0.0.1",
            "a..example.com",
            "-a.example.com",
            "",
        ] {
            assert!(cookie_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_domain_covers_itself_and_its_subdomains_only() {
        assert!(domain_covers("example.com", "example.com"));
        assert!(domain_covers("example.com", "api.example.com"));
        assert!(!domain_covers("example.com", "api.badexample.com"));
        assert!(!domain_covers("example.com", "example.com.evil.test"));
        assert!(!domain_covers("api.example.com", "example.com"));
        assert_eq!(
            origin_host("https://api.example.com:8443"),
            "api.example.com"
        );
        assert_eq!(origin_host("https://api.example.com"), "api.example.com");
    }

    #[test]
    fn a_cookie_domain_that_does_not_cover_the_api_is_refused_everywhere() {
        let e = Settings::of_pairs(&[
            (
                "API_ORIGIN",
                "https://abc123.execute-api.eu-west-1.amazonaws.com",
            ),
            ("COOKIE_DOMAIN", "example.com"),
        ])
        .unwrap_err();
        assert!(e.starts_with("COOKIE_DOMAIN "), "{e}");
        assert!(e.contains("abc123.execute-api"), "{e}");
        let s = Settings::of_pairs(&[
            ("API_ORIGIN", "https://api.example.com"),
            ("COOKIE_DOMAIN", "example.com"),
        ])
        .unwrap();
        assert_eq!(s.cookie_domain.as_deref(), Some("example.com"));
    }

    #[test]
    fn production_needs_the_api_origin_to_check_a_cookie_domain() {
        let p = production(&[("COOKIE_DOMAIN", "example.com")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("COOKIE_DOMAIN "), "{}", p[0]);
        let p = production(&[
            ("COOKIE_DOMAIN", "example.com"),
            ("API_ORIGIN", "https://api.example.com"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ]);
        assert!(p.is_empty(), "{p:?}");
        let p = production(&[("API_ORIGIN", "http://api.example.com")]);
        assert!(p[0].starts_with("API_ORIGIN "), "{p:?}");
        assert!(
            Settings::of_pairs(&[("API_ORIGIN", "https://a.example,https://b.example")]).is_err()
        );
    }

    #[test]
    fn samesite_none_needs_secure_everywhere_and_a_cross_site_app_in_production() {
        let e = Settings::of_pairs(&[("COOKIE_SAMESITE", "none")]).unwrap_err();
        assert!(
            e.starts_with("COOKIE_SAMESITE ") && e.contains("COOKIE_SECURE"),
            "{e}"
        );
        let e = Settings::of_pairs(&[
            ("APP_ENV", "production"),
            ("COOKIE_SECURE", "false"),
            ("COOKIE_SAMESITE", "none"),
        ])
        .unwrap_err();
        assert!(e.starts_with("COOKIE_SAMESITE "), "{e}");
        let s =
            Settings::of_pairs(&[("COOKIE_SECURE", "true"), ("COOKIE_SAMESITE", "None")]).unwrap();
        assert_eq!(s.cookie_same_site, SameSite::None);
        assert!(Settings::of_pairs(&[("COOKIE_SAMESITE", "sometimes")]).is_err());

        let p = production(&[("COOKIE_SAMESITE", "none")]);
        assert!(p[0].starts_with("COOKIE_SAMESITE "), "{p:?}");
        let p = production(&[
            ("COOKIE_SAMESITE", "none"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.net"),
        ]);
        assert!(p.is_empty(), "{p:?}");
        let p = production(&[
            ("COOKIE_SAMESITE", "none"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
            ("COOKIE_DOMAIN", "example.com"),
            ("API_ORIGIN", "https://api.example.com"),
        ]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("COOKIE_SAMESITE "), "{p:?}");
    }

    #[test]
    fn access_tokens_last_at_most_fifteen_minutes_and_a_minute_in_production() {
        assert_eq!(Settings::of_pairs(&[]).unwrap().access_token_ttl_secs, 900);
        assert_eq!(
            Settings::of_pairs(&[("ACCESS_TOKEN_TTL_SECS", "3")])
                .unwrap()
                .access_token_ttl_secs,
            3
        );
        for bad in ["0", "901", "-5"] {
            assert!(
                Settings::of_pairs(&[("ACCESS_TOKEN_TTL_SECS", bad)]).is_err(),
                "{bad}"
            );
        }
        let p = production(&[("ACCESS_TOKEN_TTL_SECS", "30")]);
        assert!(p[0].starts_with("ACCESS_TOKEN_TTL_SECS "), "{p:?}");
    }
}
