//! Sign-in with Google, OpenID Connect's authorization-code flow (OIDC Core §3.1): the
//! authorization request with PKCE and a `nonce`, the code exchanged at the token endpoint with
//! the client secret and the verifier, and the ID token it answers checked (`id_token`) against
//! the keys the issuer publishes (`discovery`). Endpoints come from `GOOGLE_OIDC_ISSUER`'s
//! discovery document.

use super::discovery::{self, Metadata};
use super::id_token::{self, Expected};
use super::state::Flow;
use super::{Client, Identity, Provider, fetch, provider_error, token_invalid};
use crate::normalize_email;
use rampart_http::state::AppState;
use rampart_platform::error::ApiError;

async fn metadata(state: &AppState) -> Result<std::sync::Arc<Metadata>, ApiError> {
    discovery::metadata(state, &state.settings.google_oidc_issuer).await
}

/// The authorization request (OIDC Core §3.1.2.1, RFC 7636 §4.3).
pub async fn authorize_url(
    state: &AppState,
    client: &Client,
    flow: &Flow,
) -> Result<String, ApiError> {
    let meta = metadata(state).await?;
    let challenge = flow.challenge();
    Ok(fetch::with_query(
        &meta.authorization_endpoint,
        &[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", &flow.redirect_uri),
            ("scope", Provider::Google.scope()),
            ("state", &flow.state),
            ("nonce", flow.nonce.as_deref().unwrap_or_default()),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    ))
}

/// Exchanges `code` and checks the ID token; what it proves about the person.
pub async fn identity(
    state: &AppState,
    client: &Client,
    flow: &Flow,
    code: &str,
) -> Result<Identity, ApiError> {
    let meta = metadata(state).await?;
    let answer = fetch::post_form(
        &meta.token_endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("client_id", &client.id),
            ("client_secret", &client.secret),
            ("code_verifier", &flow.verifier),
        ],
        "token endpoint",
    )
    .await?;
    // RFC 6749 §5.2: a refused code, verifier or redirect URI is a 400 `invalid_grant`.
    if (400..500).contains(&answer.status) {
        return Err(token_invalid("the token endpoint refused the code"));
    }
    let token = answer
        .body
        .get("id_token")
        .and_then(|t| t.as_str())
        .filter(|_| answer.status == 200)
        .ok_or_else(|| provider_error("the token endpoint answered no ID token"))?;
    let header = id_token::header(token).map_err(token_invalid)?;
    let key = discovery::key(state, &meta.jwks_uri, &header.kid)
        .await?
        .ok_or_else(|| token_invalid("kid not in the provider's JWKS"))?;
    if !id_token::signature_holds(token, &key) {
        return Err(token_invalid("bad signature"));
    }
    let want = Expected {
        // The configured issuer, which the discovery document had to name exactly.
        issuer: &meta.issuer,
        client_id: &client.id,
        nonce: flow.nonce.as_deref().unwrap_or_default(),
        now: state.clock.now_secs(),
    };
    let claims = id_token::claims(token, &want).map_err(token_invalid)?;
    let email = claims
        .email
        .as_deref()
        .and_then(|e| normalize_email("email", e).ok())
        .ok_or_else(super::link::no_usable_email)?;
    Ok(Identity {
        provider: Provider::Google,
        subject: claims.sub,
        email,
        email_verified: claims.email_verified,
    })
}
