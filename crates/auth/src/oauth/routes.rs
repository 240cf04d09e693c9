//! The provider routes. `GET /auth/oauth/{provider}/start` sets the flow cookie and redirects the
//! browser to the provider; `GET /auth/oauth/{provider}/callback` is where the provider sends it
//! back: the flow is checked and used up, the code exchanged, the person signed in. With
//! `delivery=cookie` (browsers, the default) the session cookies are set and the browser is sent
//! on to the app (`APP_URL` and the `redirect` path given at the start, never another site);
//! with `delivery=body` (an app driving the flow in a web view it controls, API clients) the
//! tokens are the JSON answer, as at any sign-in. A second factor, a suspension or a refusal is
//! the problem+json the other sign-ins answer.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::state::{self, FLOW_TTL_SECS, Flow};
use super::{Provider, configured, github, google, link, not_configured, token_invalid};
use crate::http::Delivery;
use crate::{cookies, device};
use rampart_http::state::AppState;
use rampart_http::{ClientIp, Query};
use rampart_platform::error::ApiError;

/// `GET /auth/oauth/{provider}/start`'s query.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    #[serde(default)]
    delivery: Delivery,
    /// A path of the app to land on afterwards (cookie delivery), `/` by default.
    redirect: Option<String>,
}

/// What the provider sends back (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207 `iss`). Other
/// parameters are the provider's own (Google adds `scope`, `authuser`, `prompt`) and ignored.
#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// A path of the app, or why not: no scheme, host or `//` (an open redirect would send a fresh
/// session's browser wherever a link said, OWASP Unvalidated Redirects Cheat Sheet).
fn app_path(raw: Option<&str>) -> Result<String, ApiError> {
    let path = raw.unwrap_or("/");
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= 512
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok {
        Ok(path.to_string())
    } else {
        Err(ApiError::BadRequest(
            "Query parameter redirect must be a path of the app, such as /welcome.".into(),
        ))
    }
}

/// The origin this request arrived at (outside production the redirect URI's default).
fn request_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    let scheme = if state.settings.cookie_secure {
        "https"
    } else {
        "http"
    };
    plain.then(|| format!("{scheme}://{host}"))
}

pub async fn start(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Start>,
) -> Result<Response, ApiError> {
    let (provider, client) = configured(&state, &name).await?;
    let redirect = app_path(q.redirect.as_deref())?;
    let origin = request_origin(&state, &headers);
    let base = state
        .settings
        .oauth_redirect_base_for(origin.as_deref())
        .ok_or_else(not_configured)?;
    let delivery = match q.delivery {
        Delivery::Cookie => "cookie",
        Delivery::Body => "body",
    };
    let now = state.clock.now_secs();
    let flow = Flow::new(
        provider,
        delivery,
        &redirect,
        provider.redirect_uri(&base),
        now,
    );
    let location = match provider {
        Provider::Google => google::authorize_url(&state, &client, &flow).await?,
        Provider::Github => github::authorize_url(&state, &client, &flow),
    };
    let pepper = state.hash_pepper().await?;
    let mut out = HeaderMap::new();
    cookies::set_oauth_flow(
        &mut out,
        &state.settings,
        &state::seal(&pepper, &flow),
        FLOW_TTL_SECS,
    );
    let location = HeaderValue::from_str(&location).map_err(ApiError::internal)?;
    out.insert(header::LOCATION, location);
    // The answer carries the flow's secrets in a cookie: no cache may keep it.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::FOUND, out).into_response())
}

pub async fn callback(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Response {
    let mut resp = match complete(&state, ip, &name, &headers, q).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    // The flow is over whatever happened: its cookie goes (its state is used up anyway).
    cookies::set_oauth_flow(resp.headers_mut(), &state.settings, "", 0);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn complete(
    state: &AppState,
    ip: ClientIp,
    name: &str,
    headers: &HeaderMap,
    q: Callback,
) -> Result<Response, ApiError> {
    let (provider, client) = configured(state, name).await?;
    if q.error.is_some() {
        return Err(ApiError::coded(
            StatusCode::BAD_REQUEST,
            "oauth-denied",
            "The sign-in was cancelled or refused at the provider.",
        ));
    }
    let returned = q.state.as_deref().ok_or_else(state::invalid)?;
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or_else(|| ApiError::BadRequest("Query parameter code is missing.".into()))?;
    let flow = state::take(state, headers, provider, returned).await?;
    // RFC 9207: an answer naming another issuer comes from another provider (a mix-up).
    if provider == Provider::Google
        && q.iss
            .as_deref()
            .is_some_and(|iss| iss != state.settings.google_oidc_issuer)
    {
        return Err(token_invalid("iss parameter names another issuer"));
    }
    let id = match provider {
        Provider::Google => google::identity(state, &client, &flow, &code).await?,
        Provider::Github => github::identity(state, &client, &flow, &code).await?,
    };
    let device = device::presented(state, headers).await?;
    let signed = link::sign_in(state, &id, Some(ip.0), device.as_ref()).await?;
    if flow.delivery == "body" {
        return Ok(crate::http::signed_in(state, signed, Delivery::Body));
    }
    let mut resp = crate::http::signed_in(state, signed, Delivery::Cookie);
    let landing = format!("{}{}", state.settings.app_url, flow.redirect);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    resp.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&landing).map_err(ApiError::internal)?,
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_app_are_landing_places() {
        assert_eq!(app_path(None).unwrap(), "/");
        assert_eq!(app_path(Some("/welcome?x=1")).unwrap(), "/welcome?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "welcome",
            "/a b",
        ] {
            assert!(app_path(Some(bad)).is_err(), "{bad}");
        }
    }
}
