//! The settings of sign-in with Google and GitHub (`auth::oauth`): where the providers send the
//! browser back, and the providers' endpoints (their public ones by default; the test command
//! and the local walkthrough point them at `scripts/oidc_standin.py`). Client ids and secrets
//! are secrets (`secrets::check`), not settings. Production refuses any of these over plain
//! http: an authorization code or a token must not cross the network in clear (RFC 9700
//! §2.6, RFC 6749 §3.1.2.1).

use super::Settings;
use super::links::base_url;
use super::setting::{Fallback, Kind, Production, Setting};

fn https(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("got {url}"))
    }
}

pub(super) const OAUTH_REDIRECT_BASE: Setting = Setting {
    name: "OAUTH_REDIRECT_BASE",
    kind: Kind::Url,
    default: Fallback::Unset(
        "`API_ORIGIN`; outside production, else the origin each request arrived at",
    ),
    production: Some(Production {
        rule: "must be https",
        holds: |s| s.oauth_redirect_base.as_deref().map_or(Ok(()), https),
    }),
    doc: "base URL of the API as registered with the sign-in providers: the redirect URI is `{OAUTH_REDIRECT_BASE}/auth/oauth/{provider}/callback` (docs/auth.md); production refuses an http one",
    apply: |s, v| {
        s.oauth_redirect_base = match v {
            Some(url) => Some(base_url(url)?),
            None => s.api_origin.clone(),
        };
        Ok(())
    },
};

pub(super) const GOOGLE_OIDC_ISSUER: Setting = Setting {
    name: "GOOGLE_OIDC_ISSUER",
    kind: Kind::Url,
    default: Fallback::Value("https://accounts.google.com"),
    production: Some(Production {
        rule: "must be https",
        holds: |s| https(&s.google_oidc_issuer),
    }),
    doc: "the OpenID Connect issuer of sign-in with Google: its endpoints and keys are read from `{issuer}/.well-known/openid-configuration`, and an ID token's `iss` must equal it exactly",
    apply: |s, v| {
        s.google_oidc_issuer = base_url(v.unwrap_or_default())?;
        Ok(())
    },
};

pub(super) const GITHUB_OAUTH_URL: Setting = Setting {
    name: "GITHUB_OAUTH_URL",
    kind: Kind::Url,
    default: Fallback::Value("https://github.com"),
    production: Some(Production {
        rule: "must be https",
        holds: |s| https(&s.github_oauth_url),
    }),
    doc: "where GitHub's web flow is: `{url}/login/oauth/authorize` and `{url}/login/oauth/access_token`",
    apply: |s, v| {
        s.github_oauth_url = base_url(v.unwrap_or_default())?;
        Ok(())
    },
};

pub(super) const GITHUB_API_URL: Setting = Setting {
    name: "GITHUB_API_URL",
    kind: Kind::Url,
    default: Fallback::Value("https://api.github.com"),
    production: Some(Production {
        rule: "must be https",
        holds: |s| https(&s.github_api_url),
    }),
    doc: "GitHub's REST API, for `/user` and `/user/emails` after the web flow",
    apply: |s, v| {
        s.github_api_url = base_url(v.unwrap_or_default())?;
        Ok(())
    },
};

impl Settings {
    /// The redirect URI base for a request that arrived at `request_origin`: the configured
    /// one, else (outside production only) the request's own origin.
    pub fn oauth_redirect_base_for(&self, request_origin: Option<&str>) -> Option<String> {
        match (&self.oauth_redirect_base, request_origin) {
            (Some(base), _) => Some(base.clone()),
            (None, Some(origin)) if !self.is_production() => Some(origin.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Settings;

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
    fn production_refuses_an_http_redirect_uri_or_provider_endpoint() {
        assert!(production(&[]).is_empty(), "the defaults are https");
        let p = production(&[("OAUTH_REDIRECT_BASE", "http://api.example.com")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("OAUTH_REDIRECT_BASE must be https in production"),
            "{}",
            p[0]
        );
        for name in ["GOOGLE_OIDC_ISSUER", "GITHUB_OAUTH_URL", "GITHUB_API_URL"] {
            let p = production(&[(name, "http://127.0.0.1:9100")]);
            assert!(p.len() == 1 && p[0].starts_with(name), "{name}: {p:?}");
        }
        assert!(production(&[("OAUTH_REDIRECT_BASE", "https://api.example.com")]).is_empty());
    }

    #[test]
    fn the_redirect_base_is_configured_or_the_api_origin_or_locally_the_request_origin() {
        let s = Settings::of_pairs(&[]).unwrap();
        assert_eq!(s.oauth_redirect_base, None);
        assert_eq!(
            s.oauth_redirect_base_for(Some("http://127.0.0.1:3000"))
                .as_deref(),
            Some("http://127.0.0.1:3000")
        );
        let s = Settings::of_pairs(&[("API_ORIGIN", "https://api.example.com")]).unwrap();
        assert_eq!(
            s.oauth_redirect_base_for(Some("http://evil.example"))
                .as_deref(),
            Some("https://api.example.com")
        );
        let s = Settings::of_pairs(&[("APP_ENV", "production")]).unwrap();
        assert_eq!(s.oauth_redirect_base_for(Some("http://x.example")), None);
        let e = Settings::of_pairs(&[("OAUTH_REDIRECT_BASE", "api.example.com")]).unwrap_err();
        assert!(e.starts_with("OAUTH_REDIRECT_BASE "), "{e}");
    }
}
