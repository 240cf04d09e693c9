//! Sign-in with GitHub, its OAuth 2.0 web flow (GitHub Docs, "Authorizing OAuth apps"): the
//! authorization request with PKCE, the code exchanged at `/login/oauth/access_token` (JSON
//! asked for with `Accept`), then the person read from the REST API: `/user` for the stable
//! numeric id (the login can be renamed and reused, the id cannot) and `/user/emails` for the
//! address, of which only the one both `primary` and `verified` counts. GitHub issues no ID
//! token, so the token endpoint's answer over TLS to our client secret is the proof.

use serde_json::Value;

use super::state::Flow;
use super::{Client, Identity, Provider, fetch, provider_error, token_invalid};
use crate::normalize_email;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

/// The authorization request.
pub fn authorize_url(state: &AppState, client: &Client, flow: &Flow) -> String {
    let challenge = flow.challenge();
    fetch::with_query(
        &format!("{}/login/oauth/authorize", state.settings.github_oauth_url),
        &[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", &flow.redirect_uri),
            ("scope", Provider::Github.scope()),
            ("state", &flow.state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            // Sign in only: no new GitHub account is offered on the way.
            ("allow_signup", "false"),
        ],
    )
}

/// Exchanges `code` and reads the person; what GitHub vouches for.
pub async fn identity(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    code: &str,
) -> Result<Identity, ApiError> {
    let s = &state.settings;
    let answer = fetch::post_form(
        &format!("{}/login/oauth/access_token", s.github_oauth_url),
        &[
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.verifier),
        ],
        "GitHub token endpoint",
    )
    .await?;
    // GitHub answers a refused code with 200 and an `error` member (`bad_verification_code`).
    if (400..500).contains(&answer.status) || answer.body.get("error").is_some() {
        return Err(token_invalid("GitHub refused the code"));
    }
    let token = answer
        .body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|_| answer.status == 200)
        .ok_or_else(|| provider_error("GitHub answered no access token"))?;
    let user = fetch::get(
        &format!("{}/user", s.github_api_url),
        Some(token),
        "GitHub user",
    )
    .await?;
    let subject = match user.body.get("id") {
        Some(Value::Number(id)) if user.status == 200 => id.to_string(),
        _ => return Err(provider_error("GitHub answered no user id")),
    };
    let emails = fetch::get(
        &format!("{}/user/emails", s.github_api_url),
        Some(token),
        "GitHub emails",
    )
    .await?;
    if emails.status != 200 {
        return Err(provider_error("GitHub answered no address list"));
    }
    let email = primary_verified(&emails.body).ok_or_else(super::link::no_usable_email)?;
    Ok(Identity {
        provider: Provider::Github,
        subject,
        email,
        email_verified: true,
    })
}

/// The address both `primary` and `verified` in a `/user/emails` answer: a secondary or
/// unverified address in the list proves nothing about who holds it.
pub fn primary_verified(list: &Value) -> Option<String> {
    list.as_array()?
        .iter()
        .find(|e| e["primary"] == Value::Bool(true) && e["verified"] == Value::Bool(true))
        .and_then(|e| e["email"].as_str())
        .and_then(|e| normalize_email("email", e).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_primary_verified_address_counts() {
        let list = json!([
            {"email": "other@example.com", "primary": false, "verified": true},
            {"email": "Me@Example.com", "primary": true, "verified": true},
        ]);
        assert_eq!(primary_verified(&list).as_deref(), Some("me@example.com"));
        let unverified = json!([
            {"email": "me@example.com", "primary": true, "verified": false},
            {"email": "other@example.com", "primary": false, "verified": true},
        ]);
        assert_eq!(primary_verified(&unverified), None);
        assert_eq!(
            primary_verified(&json!({"message": "Bad credentials"})),
            None
        );
    }
}
