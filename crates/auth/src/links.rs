//! The links the account mails carry into the app: a page under `APP_URL` per mail, its values
//! form-encoded into the query (WHATWG URL Standard, `application/x-www-form-urlencoded`), so a
//! token or an address with `+`, `&` or `=` in it arrives as sent. The app's page reads them and
//! calls the API (`POST /auth/password/reset`, `POST /auth/verify-email`). Paths are part of the
//! contract with the app: docs/auth.md lists them.

use rampart_platform::config::Settings;

/// The app's page that asks for a new password and posts it with the token.
pub const RESET_PASSWORD_PATH: &str = "/reset-password";
/// The app's page that confirms the address with the code.
pub const VERIFY_EMAIL_PATH: &str = "/verify-email";

/// `{APP_URL}{path}?{pairs}`, or `None` when no app URL is configured (Lambda outside
/// production without one: the mail then carries the bare token or code only).
fn link(settings: &Settings, path: &str, pairs: &[(&str, &str)]) -> Option<String> {
    if settings.app_url.is_empty() {
        return None;
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Some(format!("{}{path}?{query}", settings.app_url))
}

/// The password reset page for `token`.
pub fn reset_password(settings: &Settings, token: &str) -> Option<String> {
    link(settings, RESET_PASSWORD_PATH, &[("token", token)])
}

/// The address verification page for `code` sent to `email`.
pub fn verify_email(settings: &Settings, code: &str, email: &str) -> Option<String> {
    link(
        settings,
        VERIFY_EMAIL_PATH,
        &[("code", code), ("email", email)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(url: &str) -> Settings {
        Settings::from_lookup(|k| (k == "APP_URL").then(|| url.to_string())).unwrap()
    }

    #[test]
    fn links_are_under_the_app_url_with_their_values_encoded() {
        let s = app("https://app.example.com/");
        assert_eq!(
            reset_password(&s, "a+b/c=d&e").unwrap(),
            "https://app.example.com/reset-password?token=a%2Bb%2Fc%3Dd%26e"
        );
        assert_eq!(
            verify_email(&s, "012345", "kim+tag@example.com").unwrap(),
            "https://app.example.com/verify-email?code=012345&email=kim%2Btag%40example.com"
        );
    }

    #[test]
    fn without_an_app_url_there_is_no_link() {
        let mut s = app("https://app.example.com");
        s.app_url.clear();
        assert_eq!(reset_password(&s, "t"), None);
    }
}
