//! `auth-api`: registration, password and email-code login, sessions delivered as httpOnly
//! cookies (web) or in the body (mobile), refresh rotation, logout, password reset and change.
//!
//! `routes` are this function's routes on the shared state; `router` adds the shared layers
//! (what Lambda serves). The local stack merges every function's `routes` under one set of
//! layers. The flows themselves live in `rampart::auth`.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rampart::AppState;
use rampart::auth::service::{self, UNIFORM_RESPONSE_FLOOR};
use rampart::auth::session::{self, Issued};
use rampart::auth::{AuthUser, cookies, extract, normalize_email};
use rampart::error::{ApiError, FieldError};
use rampart::health::{self, Dep};
use rampart::http::{self, ClientIp, Json, RouterOptions};
use rampart::ratelimit::{self, KeyPart, Rule, Subject};
use serde::Deserialize;
use serde_json::json;

/// Dependencies `/auth/health` reports on.
pub const DEPENDENCIES: &[Dep] = &[Dep::Store];

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The auth rate limits. Login and refresh from the issue; email-code limits from the eSIM seed
/// (per email+IP 1 per 60 s and 5 per 24 h, per IP 25 per 24 h); the rest are our choice.
pub fn rules() -> Rules {
    Rules {
        login: vec![Rule::new("login_ip", 5, MINUTE, &[KeyPart::Ip])],
        register: vec![Rule::new("register_ip", 20, HOUR, &[KeyPart::Ip])],
        refresh: vec![Rule::new("refresh_ip", 10, MINUTE, &[KeyPart::Ip])],
        forgot: vec![Rule::new("forgot_ip", 3, HOUR, &[KeyPart::Ip])],
        reset: vec![Rule::new("reset_ip", 10, HOUR, &[KeyPart::Ip])],
        otp: vec![
            Rule::new(
                "otp_email_ip_min",
                1,
                MINUTE,
                &[KeyPart::Email, KeyPart::Ip],
            ),
            Rule::new("otp_email_ip_day", 5, DAY, &[KeyPart::Email, KeyPart::Ip]),
            Rule::new("otp_ip_day", 25, DAY, &[KeyPart::Ip]),
            // Whatever the IP: an attacker with many addresses gets no more codes (and so no
            // more guesses) for one account. Our choice, on top of the seed's numbers.
            Rule::new("otp_email_day", 10, DAY, &[KeyPart::Email]),
        ],
        otp_verify: vec![Rule::new("otp_verify_ip", 30, MINUTE, &[KeyPart::Ip])],
        forgot_email: vec![Rule::new("forgot_email_day", 5, DAY, &[KeyPart::Email])],
    }
}

pub struct Rules {
    pub login: Vec<Rule>,
    pub register: Vec<Rule>,
    pub refresh: Vec<Rule>,
    pub forgot: Vec<Rule>,
    pub reset: Vec<Rule>,
    pub otp: Vec<Rule>,
    pub otp_verify: Vec<Rule>,
    pub forgot_email: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Delivery {
    #[default]
    Cookie,
    Body,
}

#[derive(Deserialize)]
struct Register {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
    #[serde(default)]
    delivery: Delivery,
}

#[derive(Deserialize)]
struct EmailOnly {
    email: String,
}

#[derive(Deserialize)]
struct VerifyCode {
    email: String,
    code: String,
    #[serde(default)]
    delivery: Delivery,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
struct Reset {
    token: String,
    new_password: String,
}

#[derive(Deserialize)]
struct Change {
    current_password: String,
    new_password: String,
}

fn tokens(state: &AppState, issued: Issued, delivery: Delivery) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    let mut headers = HeaderMap::new();
    match delivery {
        Delivery::Body => body["refresh_token"] = issued.refresh_token.into(),
        Delivery::Cookie => cookies::set(
            &mut headers,
            state.settings.cookie_secure,
            &issued.access_token,
            &issued.refresh_token,
            &issued.csrf_token,
        ),
    }
    (StatusCode::OK, headers, axum::Json(body)).into_response()
}

fn email_field(raw: &str) -> Result<String, ApiError> {
    normalize_email("email", raw).map_err(|e| ApiError::Validation(vec![e]))
}

/// The answer to `otp/request` and `password/forgot`, whatever happened.
fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": "accepted", "detail": "If the address can receive mail, a message is on its way." })),
    )
        .into_response()
}

async fn register(
    State(state): State<AppState>,
    Json(b): Json<Register>,
) -> Result<Response, ApiError> {
    let p = service::register(&state, &b.email, &b.password).await?;
    let body = json!({ "id": p.id, "email": p.email });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<Login>,
) -> Result<Response, ApiError> {
    let issued = service::login(&state, &b.email, &b.password, Some(ip.0)).await?;
    Ok(tokens(&state, issued, b.delivery))
}

async fn otp_request(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = email_field(&b.email)?;
    let subject = Subject {
        ip: Some(ip.0),
        email: Some(email.clone()),
        ..Subject::default()
    };
    let headers = ratelimit::enforce(&state, &rules().otp, &subject).await?;
    service::request_code(&state, &email).await?;
    let mut resp = accepted();
    headers.write(resp.headers_mut());
    Ok(resp)
}

async fn otp_verify(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<VerifyCode>,
) -> Result<Response, ApiError> {
    let issued = service::verify_code(&state, &b.email, &b.code, Some(ip.0)).await?;
    Ok(tokens(&state, issued, b.delivery))
}

async fn refresh(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !body.is_empty() {
        let b: RefreshBody = http::json::parse(&body)?;
        let issued = session::refresh(&state, &b.refresh_token, Some(ip.0)).await?;
        return Ok(tokens(&state, issued, Delivery::Body));
    }
    let names = cookies::names(state.settings.cookie_secure);
    let token = cookies::get(&headers, names.refresh)
        .ok_or_else(|| ApiError::Unauthorized("No refresh token was presented.".into()))?;
    // The refresh cookie is a credential too: same Origin and CSRF rules, bound to its session.
    let (_, session_id) = session::owner_of(&state, &token).await?;
    extract::check_cookie_request(&state, &headers, &session_id).await?;
    let issued = session::refresh(&state, &token, Some(ip.0)).await?;
    Ok(tokens(&state, issued, Delivery::Cookie))
}

async fn logout(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    user: Result<AuthUser, ApiError>,
    body: Bytes,
) -> Result<Response, ApiError> {
    // An idle web session outlives its 15-minute access token: logout must still end it, from
    // the refresh cookie (same Origin and CSRF rules) or a refresh token in the body.
    let (user_id, session_id, via) = match user {
        Ok(u) => (u.user_id, u.session_id, format!("{:?}", u.via)),
        Err(denied) => {
            let names = cookies::names(state.settings.cookie_secure);
            let from_body = if body.is_empty() {
                None
            } else {
                Some(http::json::parse::<RefreshBody>(&body)?.refresh_token)
            };
            let (token, via) = match (from_body, cookies::get(&headers, names.refresh)) {
                (Some(t), _) => (t, "RefreshBody"),
                (None, Some(t)) => (t, "RefreshCookie"),
                (None, None) => return Err(denied),
            };
            let (user_id, session_id) = session::owner_of(&state, &token).await?;
            if via == "RefreshCookie" {
                extract::check_cookie_request(&state, &headers, &session_id).await?;
            }
            (user_id, session_id, via.to_string())
        }
    };
    session::revoke(&state, &user_id, &session_id).await?;
    rampart::audit::record(
        &state,
        "logout",
        &user_id,
        Some(ip.0),
        json!({ "via": via }),
    )
    .await;
    let mut headers = HeaderMap::new();
    cookies::clear(&mut headers, state.settings.cookie_secure);
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

async fn me(user: AuthUser) -> Result<Response, ApiError> {
    // The session check already read the user item.
    Ok(axum::Json(service::profile_of(&user.user_id, &user.user)).into_response())
}

async fn forgot(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = email_field(&b.email)?;
    let subject = Subject {
        ip: Some(ip.0),
        email: Some(email.clone()),
        ..Subject::default()
    };
    ratelimit::enforce(&state, &rules().forgot_email, &subject).await?;
    let started = Instant::now();
    // Only the account-exists path writes and mails, so its failures must not show: the
    // answer is the same 202 either way, and the cause goes to the log (no address in it).
    if let Err(e) = service::forgot_password(&state, &email).await {
        tracing::error!(error = %e, "password reset mail not sent");
    }
    // Known and unknown emails answer after the same floor, so timing does not tell them apart.
    if let Some(rest) = UNIFORM_RESPONSE_FLOOR.checked_sub(started.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    Ok(accepted())
}

async fn reset(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(b): Json<Reset>,
) -> Result<Response, ApiError> {
    service::reset_password(&state, &b.token, &b.new_password, Some(ip.0)).await?;
    let mut headers = HeaderMap::new();
    cookies::clear(&mut headers, state.settings.cookie_secure);
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

async fn change(
    State(state): State<AppState>,
    ip: ClientIp,
    user: AuthUser,
    Json(b): Json<Change>,
) -> Result<Response, ApiError> {
    if b.new_password == b.current_password {
        return Err(ApiError::Validation(vec![FieldError::new(
            "new_password",
            "must differ from the current password",
        )]));
    }
    service::change_password(
        &state,
        &user.user_id,
        &user.session_id,
        &b.current_password,
        &b.new_password,
        Some(ip.0),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn routes(state: AppState) -> Router {
    let r = rules();
    let limited =
        |router: Router<AppState>, rules: Vec<Rule>| ratelimit::protect(router, &state, rules);
    Router::new()
        .merge(health::routes("/auth/health", DEPENDENCIES))
        .merge(limited(
            Router::new().route("/auth/register", post(register)),
            r.register,
        ))
        .merge(limited(
            Router::new().route("/auth/login", post(login)),
            r.login,
        ))
        .merge(limited(
            Router::new().route("/auth/refresh", post(refresh)),
            r.refresh,
        ))
        .merge(limited(
            Router::new().route("/auth/password/forgot", post(forgot)),
            r.forgot,
        ))
        .merge(limited(
            Router::new().route("/auth/password/reset", post(reset)),
            r.reset,
        ))
        .route("/auth/otp/request", post(otp_request))
        .merge(limited(
            Router::new().route("/auth/otp/verify", post(otp_verify)),
            r.otp_verify,
        ))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/password/change", post(change))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    http::finish(routes(state.clone()), &state, RouterOptions::default())
}

/// Production auth needs a real mail sender.
pub fn check_production(state: &AppState) -> Result<(), rampart::error::StartupError> {
    if state.settings.is_production() && state.settings.mail_from.is_none() {
        return Err(rampart::error::StartupError(
            "MAIL_FROM must be set for auth-api in production (codes and reset links are mailed)"
                .into(),
        ));
    }
    Ok(())
}
