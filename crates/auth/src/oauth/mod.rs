//! Sign-in with Google (OpenID Connect) and GitHub (OAuth 2.0 web flow): the authorization-code
//! flow with PKCE (RFC 7636, S256) and a `state` bound to the browser by a short-lived signed
//! cookie (`state`), the ID token checked against Google's published keys (`discovery`,
//! `id_token`), GitHub's verified primary address read from its API (`github`), and the person
//! found by their (provider, subject), or linked to or created as an account by `link`. Every
//! sign-in ends in `session::signed_in`, so the second factor and suspension apply as for a
//! password. The handlers are in `routes`.
//!
//! Standards: RFC 6749 (OAuth 2.0), RFC 7636 (PKCE), RFC 9700 (OAuth 2.0 security BCP: PKCE,
//! exact redirect URIs, one-time `state`), OpenID Connect Core 1.0 §3.1 (the code flow and ID
//! token validation), OpenID Connect Discovery 1.0, RFC 7517/7518 (JWK, RS256), RFC 8725 (JWT
//! best practices), RFC 9207 (the `iss` authorization response parameter).

pub mod discovery;
pub mod fetch;
pub mod github;
pub mod google;
pub mod id_token;
pub mod link;
pub mod routes;
pub mod state;

use axum::http::StatusCode;

use rampart_http::state::AppState;
use rampart_platform::error::ApiError;
use rampart_platform::secrets::check::{
    GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET,
};

/// A sign-in provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    Github,
}

impl Provider {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "google" => Some(Self::Google),
            "github" => Some(Self::Github),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Github => "github",
        }
    }

    /// What is asked of the person: their id and verified address, nothing more (Google:
    /// OIDC Core §5.4 scopes; GitHub: the profile and the address list, read-only).
    pub fn scope(self) -> &'static str {
        match self {
            Self::Google => "openid email profile",
            Self::Github => "read:user user:email",
        }
    }

    /// Where the provider sends the browser back, under the API's registered base.
    pub fn redirect_uri(self, base: &str) -> String {
        format!("{base}/auth/oauth/{}/callback", self.as_str())
    }
}

/// This API's credentials at a provider (secrets, like every credential).
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
}

/// 404: the provider is unknown or not configured here (no client id and secret).
pub fn not_configured() -> ApiError {
    ApiError::NotFound("This sign-in provider is not configured.".into())
}

/// The provider named in the path, when it is configured; 404 otherwise.
pub async fn configured(state: &AppState, name: &str) -> Result<(Provider, Client), ApiError> {
    let provider = Provider::parse(name).ok_or_else(not_configured)?;
    let (id, secret) = match provider {
        Provider::Google => (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET),
        Provider::Github => (GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET),
    };
    let get = |name: &'static str| async move {
        state
            .secrets
            .get(name)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))
            .map(|v| v.filter(|v| !v.trim().is_empty()))
    };
    match (get(id).await?, get(secret).await?) {
        (Some(id), Some(secret)) => Ok((provider, Client { id, secret })),
        _ => Err(not_configured()),
    }
}

/// What a provider vouches for about the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub provider: Provider,
    /// The provider's stable id of the person (never the address: addresses change hands).
    pub subject: String,
    /// Normalised (`normalize_email`).
    pub email: String,
    /// Whether the provider verified that the person controls the address.
    pub email_verified: bool,
}

/// 401 `oauth-token-invalid`: what came back from the provider does not prove who this is
/// (an ID token that fails a check, a code or verifier the token endpoint refused).
pub fn token_invalid(why: &str) -> ApiError {
    tracing::warn!(why, "sign-in provider answer refused");
    ApiError::coded(
        StatusCode::UNAUTHORIZED,
        "oauth-token-invalid",
        "The sign-in provider's answer could not be verified; start the sign-in again.",
    )
}

/// 502 `identity-provider-error`: the provider could not be reached or answered nonsense.
pub fn provider_error(why: &str) -> ApiError {
    tracing::error!(why, "sign-in provider call failed");
    ApiError::coded(
        StatusCode::BAD_GATEWAY,
        "identity-provider-error",
        "The sign-in provider could not be reached; try again later.",
    )
}
