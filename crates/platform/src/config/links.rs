//! `APP_URL`: where the app's own pages are, which the account mails link to (the password
//! reset and the address verification pages; the paths are `auth`'s, docs/auth.md lists them).
//! Declared here and listed in `table::SETTINGS` after `PUBLIC_BASE_URL`, its local default.

use super::setting::{Fallback, Kind, Setting};

/// An http(s) base URL with no query or fragment (paths are appended), without its trailing
/// slash.
pub fn base_url(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| format!("must be an http(s) URL, got {raw:?}"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("must name a host, got {raw:?}"));
    }
    if rest.contains(['?', '#']) || rest.contains(char::is_whitespace) {
        return Err(format!(
            "must be a base URL without query, fragment or spaces (paths are appended), got {raw:?}"
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

pub(super) const APP_URL: Setting = Setting {
    name: "APP_URL",
    kind: Kind::Url,
    default: Fallback::Unset("`PUBLIC_BASE_URL` (not in production)"),
    production: None,
    doc: "base URL of your app, which the account mails link to: `{APP_URL}/reset-password?token=…` and `{APP_URL}/verify-email?code=…&email=…` (docs/auth.md); auth-api refuses to start without an https one in production",
    apply: |s, v| {
        s.app_url = match v {
            Some(url) => base_url(url)?,
            // Nothing under the API serves these pages: production must name the app.
            None if s.is_production() => String::new(),
            None => s.public_base_url.clone(),
        };
        Ok(())
    },
};

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::base_url;

    #[test]
    fn the_app_url_is_a_base_url_defaulting_to_the_public_base_url_outside_production() {
        assert_eq!(
            Settings::of_pairs(&[]).unwrap().app_url,
            "http://127.0.0.1:3000"
        );
        let s = Settings::of_pairs(&[("APP_URL", "https://app.example.com/")]).unwrap();
        assert_eq!(s.app_url, "https://app.example.com");
        let prod = Settings::of_pairs(&[("APP_ENV", "production")]).unwrap();
        assert_eq!(prod.app_url, "", "auth-api refuses to start");
        for bad in [
            "app.example.com",
            "https://",
            "https://app.example.com/?x=1",
            "https://app.example.com/#top",
        ] {
            let e = Settings::of_pairs(&[("APP_URL", bad)]).unwrap_err();
            assert!(e.starts_with("APP_URL "), "{bad}: {e}");
        }
        assert_eq!(
            base_url("https://example.com/app/").unwrap(),
            "https://example.com/app"
        );
    }
}
