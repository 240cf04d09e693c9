//! The contract of the `/auth/*` routes (`auth-api`): one stub per handler of `auth::http`,
//! carrying the route's OpenAPI operation. How to add one: `rampart_http::openapi`'s module doc.

use utoipa::{OpenApi, ToSchema};

use super::account::Profile;
use super::http::{
    Change, EmailOnly, Login, RefreshBody, Register, Reset, VerifyCode, VerifyEmail,
};
use super::http_2fa::{SecondFactor, TotpConfirm, TotpDisable};
use super::suspension::Reason;
use rampart_http::openapi::{
    AccountSuspended, Conflict, Forbidden, IdentityProviderError, NotFound, OAuthForbidden,
    OAuthRefused, OAuthUnauthorized, RateLimited, SecondFactorRequired, Unauthorized, Unavailable,
    Unprocessable,
};

#[derive(OpenApi)]
#[openapi(paths(
    register,
    verify_email,
    login,
    otp_request,
    otp_verify,
    refresh,
    logout,
    me,
    forgot,
    reset,
    change,
    list_sessions,
    end_session,
    end_other_sessions,
    suspend_user,
    reinstate_user,
    totp_setup,
    totp_confirm,
    totp_disable,
    second_factor_verify,
    oauth_start,
    oauth_callback
))]
struct Api;

/// The `/auth/*` part of `auth-api`'s document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// A new account.
#[derive(ToSchema)]
#[schema(example = json!({"id": "890c5e4d3f6a13484bef2c96b5b6f008", "email": "me@example.com"}))]
pub struct Registered {
    pub id: String,
    pub email: String,
}

/// The address is verified.
#[derive(ToSchema)]
pub struct EmailVerified {
    /// Always `true`.
    pub email_verified: bool,
}

/// The answer of the routes that must not reveal whether an account exists.
#[derive(ToSchema)]
#[schema(example = json!({"status": "accepted", "detail": "If the address can receive mail, a message is on its way."}))]
pub struct Accepted {
    /// Always `accepted`.
    pub status: String,
    pub detail: String,
}

/// Tokens of a sign-in or refresh. `delivery: "cookie"` sets `access_token` and `refresh_token`
/// as httpOnly cookies and `csrf_token` for the double submit, and the body carries no token:
/// `{token_type, expires_in, delivery: "cookie"}`; `delivery: "body"` returns both tokens here.
#[derive(ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6IjEiLCJ0eXAiOiJKV1QifQ.e30.sig", "token_type": "Bearer", "expires_in": 900, "refresh_token": "rt_..."}))]
pub struct Tokens {
    /// With `delivery: "body"` only: an HS256 JWT (`typ: at+jwt`, RFC 8725 profile) for
    /// `Authorization: Bearer`.
    pub access_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires (900, less in the session's last 15 minutes).
    pub expires_in: i64,
    /// With `delivery: "body"` only.
    pub refresh_token: Option<String>,
    /// `cookie` when the tokens went into cookies.
    pub delivery: Option<String>,
    /// Email-code sign-in only: whether taking an unverified account back removed its password.
    pub password_removed: Option<bool>,
}

/// Registers an account and mails a code to verify the address.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = Register,
    responses(
        (status = 201, description = "Registered; a verification code is mailed.", body = Registered),
        Conflict, RateLimited,
    ),
    security(()),
)]
pub fn register() {}

/// Verifies the address with the mailed code (5 wrong tries burn it; valid 24 h).
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = VerifyEmail,
    responses(
        (status = 200, description = "The address is verified.", body = EmailVerified),
        Unauthorized, RateLimited,
    ),
    security(()),
)]
pub fn verify_email() {}

/// Signs in with a password; also sets the signed device cookie. With TOTP on, answers 401
/// `urn:rampart:problem:second-factor-required` with `mfa_token` for `/auth/2fa/verify` instead.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = Login,
    responses(
        (status = 200, description = "Signed in.", body = Tokens,
            headers(("Set-Cookie" = String, description = "Session cookies (cookie delivery) and the device cookie."),
                ("X-CSRF-Token" = String, description = "Cookie delivery: the CSRF token to send back in `X-CSRF-Token` with every state-changing cookie request (the same value as the CSRF cookie, for an app that cannot read the API host's cookies)."))),
        AccountSuspended, SecondFactorRequired, RateLimited,
    ),
    security(()),
)]
pub fn login() {}

/// Mails a sign-in code (the same answer whether or not the account exists).
#[utoipa::path(post, path = "/auth/otp/request", tag = "auth", request_body = EmailOnly,
    responses(
        (status = 202, description = "Accepted, whatever happened.", body = Accepted),
        RateLimited,
    ),
    security(()),
)]
pub fn otp_request() {}

/// Signs in with a mailed code, creating the account on first use. With TOTP on, answers 401
/// `urn:rampart:problem:second-factor-required` with `mfa_token` for `/auth/2fa/verify` instead.
#[utoipa::path(post, path = "/auth/otp/verify", tag = "auth", request_body = VerifyCode,
    responses(
        (status = 200, description = "Signed in.", body = Tokens,
            headers(("Set-Cookie" = String, description = "Session cookies (cookie delivery) and the device cookie."),
                ("X-CSRF-Token" = String, description = "Cookie delivery: the CSRF token to send back in `X-CSRF-Token` with every state-changing cookie request (the same value as the CSRF cookie, for an app that cannot read the API host's cookies)."))),
        AccountSuspended, SecondFactorRequired, RateLimited,
    ),
    security(()),
)]
pub fn otp_verify() {}

/// Rotates the refresh token: from the body (mobile) or the refresh cookie with `X-CSRF-Token`.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshBody>, description = "Omit the body to use the refresh cookie."),
    responses(
        (status = 200, description = "New tokens; the refresh token is rotated.", body = Tokens,
            headers(("X-CSRF-Token" = String, description = "Cookie refresh: the session's CSRF token, as at sign-in."))),
        Unauthorized, Forbidden, RateLimited, Unavailable,
    ),
    security((), ("refresh_cookie" = [], "csrf_header" = [])),
)]
pub fn refresh() {}

/// Ends the session (also from the refresh token once the access token expired).
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<RefreshBody>, description = "A refresh token, when the access token expired."),
    responses(
        (status = 204, description = "Signed out; the session cookies are cleared."),
        Unauthorized, Forbidden,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = []), ("refresh_cookie" = [], "csrf_header" = []), ()),
)]
pub fn logout() {}

/// The signed-in account.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, description = "The account.", body = Profile), Unauthorized),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn me() {}

/// Mails a password reset link (the same answer whether or not the account exists).
#[utoipa::path(post, path = "/auth/password/forgot", tag = "auth", request_body = EmailOnly,
    responses((status = 202, description = "Accepted, whatever happened.", body = Accepted), RateLimited),
    security(()),
)]
pub fn forgot() {}

/// Sets a new password with a reset link's token; every session is revoked.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = Reset,
    responses(
        (status = 204, description = "Password set; every session revoked."),
        RateLimited,
    ),
    security(()),
)]
pub fn reset() {}

/// Changes the password; every other session is revoked unless `end_other_sessions` is `false`.
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = Change,
    responses(
        (status = 204, description = "Password changed."),
        Unauthorized, Forbidden, RateLimited,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn change() {}

/// One of the caller's live sessions.
#[derive(ToSchema)]
#[schema(example = json!({"id": "5f0c4e2a9b1d4c6e8f7a6b5c4d3e2f10", "created_at": 1767225600, "last_used_at_least": 1767229200, "expires_at": 1767834000, "device_class": "browser", "current": true}))]
pub struct SessionView {
    pub id: String,
    /// Sign-in time (epoch seconds).
    pub created_at: i64,
    /// The last refresh, at least (epoch seconds): read from the refresh expiry, no write per
    /// request.
    pub last_used_at_least: i64,
    /// When the session ends unless refreshed (epoch seconds).
    pub expires_at: i64,
    /// `browser`, `mobile` or `api`, from the User-Agent at sign-in; `null` for sessions older
    /// than this field.
    pub device_class: Option<String>,
    /// The session this request came with.
    pub current: bool,
}

/// The caller's live sessions, newest first.
#[derive(ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// How many sessions ended.
#[derive(ToSchema)]
#[schema(example = json!({"ended": 2}))]
pub struct SessionsEnded {
    pub ended: i64,
}

/// An account's suspension as operators see it.
#[derive(ToSchema)]
#[schema(example = json!({"id": "890c5e4d3f6a13484bef2c96b5b6f008", "suspended": true, "suspended_at": 1767225600, "reason": "chargeback fraud", "suspended_by": "operator:3f2a1b0c9d8e"}))]
pub struct SuspensionState {
    pub id: String,
    pub suspended: bool,
    pub suspended_at: Option<i64>,
    pub reason: Option<String>,
    /// `operator:<fingerprint of the token>`.
    pub suspended_by: Option<String>,
}

/// Lists the caller's live sessions (revoked, expired and ended ones are not shown).
#[utoipa::path(get, path = "/auth/sessions", tag = "auth",
    responses((status = 200, description = "The live sessions.", body = SessionList), Unauthorized),
    security(("bearer" = []), ("session_cookie" = [])),
)]
pub fn list_sessions() {}

/// Ends one of the caller's sessions (the current one too: that is a logout).
#[utoipa::path(delete, path = "/auth/sessions/{id}", tag = "auth",
    params(("id" = String, Path, description = "A session id from `GET /auth/sessions`.")),
    responses(
        (status = 204, description = "Ended."),
        Unauthorized, Forbidden, NotFound,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn end_session() {}

/// Ends every session of the caller but the current one.
#[utoipa::path(post, path = "/auth/sessions/end-others", tag = "auth",
    responses(
        (status = 200, description = "The others ended.", body = SessionsEnded),
        Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn end_other_sessions() {}

/// Suspends an account: its sessions and refresh tokens stop working at once and no sign-in
/// issues one (`account-suspended`, once the credential is right). Suspending a suspended
/// account answers its suspension as it stands.
#[utoipa::path(post, operation_id = "suspend_user", path = "/admin/users/{id}/suspend", tag = "operators",
    request_body = Reason,
    params(("id" = String, Path, description = "The user id.")),
    responses(
        (status = 200, description = "Suspended.", body = SuspensionState),
        Unauthorized, NotFound, Unprocessable, RateLimited,
    ),
    security(("admin_bearer" = [])),
)]
pub fn suspend_user() {}

/// Lifts a suspension: the owner may sign in again (sessions ended by the suspension stay
/// ended). Reinstating an account that is not suspended answers its state.
#[utoipa::path(post, operation_id = "reinstate_user", path = "/admin/users/{id}/reinstate", tag = "operators",
    request_body = Reason,
    params(("id" = String, Path, description = "The user id.")),
    responses(
        (status = 200, description = "Not suspended.", body = SuspensionState),
        Unauthorized, NotFound, Unprocessable, RateLimited,
    ),
    security(("admin_bearer" = [])),
)]
pub fn reinstate_user() {}

/// A new TOTP secret, shown once (`Cache-Control: no-store`).
#[derive(ToSchema)]
#[schema(example = json!({"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "otpauth_uri": "otpauth://totp/Rampart:me@example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Rampart", "expires_in": 900}))]
pub struct TotpSecret {
    /// 160 bits, RFC 4648 base32 without padding: for typing into an authenticator app.
    pub secret: String,
    /// The same secret as a URI for a QR code (HMAC-SHA1, 6 digits, 30 s).
    pub otpauth_uri: String,
    /// Seconds the pending secret waits for its first code (`/auth/2fa/totp/confirm`).
    pub expires_in: i64,
}

/// Recovery codes, shown once (`Cache-Control: no-store`): each signs in once instead of a code.
#[derive(ToSchema)]
#[schema(example = json!({"recovery_codes": ["k7d2q-mx4pa", "..."]}))]
pub struct RecoveryCodes {
    /// Ten codes, `xxxxx-xxxxx` (case, spaces and dashes do not matter when used).
    pub recovery_codes: Vec<String>,
}

/// Starts turning on TOTP: a pending secret for the authenticator app (verified address only).
#[utoipa::path(post, path = "/auth/2fa/totp/setup", tag = "auth",
    responses(
        (status = 200, description = "A pending secret; confirm it with a code within 15 minutes.", body = TotpSecret),
        Unauthorized, Forbidden, Conflict,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn totp_setup() {}

/// Turns TOTP on with a current code of the pending secret; answers the ten recovery codes.
#[utoipa::path(post, path = "/auth/2fa/totp/confirm", tag = "auth", request_body = TotpConfirm,
    responses(
        (status = 200, description = "TOTP is on; every sign-in now asks for a code.", body = RecoveryCodes),
        Unauthorized, Conflict,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn totp_confirm() {}

/// Turns TOTP off: needs a current code or a recovery code (counted like a sign-in attempt).
#[utoipa::path(post, path = "/auth/2fa/totp/disable", tag = "auth", request_body = TotpDisable,
    responses(
        (status = 204, description = "TOTP is off; the secret and the recovery codes are deleted."),
        Unauthorized, Forbidden, Conflict, RateLimited,
    ),
    security(("bearer" = []), ("session_cookie" = [], "csrf_header" = [])),
)]
pub fn totp_disable() {}

/// Completes a sign-in that answered 401 `second-factor-required` (with its `mfa_token`, valid
/// 5 minutes): a TOTP code or a recovery code. Wrong codes count against the sign-in throttle.
#[utoipa::path(post, path = "/auth/2fa/verify", tag = "auth", request_body = SecondFactor,
    responses(
        (status = 200, description = "Signed in.", body = Tokens,
            headers(("Set-Cookie" = String, description = "Session cookies (cookie delivery) and the device cookie."),
                ("X-CSRF-Token" = String, description = "Cookie delivery: the CSRF token to send back in `X-CSRF-Token` with every state-changing cookie request."))),
        Unauthorized, RateLimited,
    ),
    security(()),
)]
pub fn second_factor_verify() {}

/// Starts a sign-in with Google (OpenID Connect) or GitHub: sets the short-lived flow cookie
/// (`state`, PKCE verifier, `nonce`; HttpOnly, `SameSite=Lax`, path `/auth/oauth`, 10 minutes) and
/// redirects the browser to the provider. 404 when the provider is not configured.
#[utoipa::path(get, operation_id = "oauth_start", path = "/auth/oauth/{provider}/start", tag = "auth",
    params(
        ("provider" = String, Path, description = "`google` or `github`."),
        ("delivery" = Option<String>, Query, description = "`cookie` (default: session cookies, then a redirect to the app) or `body` (the tokens as the callback's JSON answer)."),
        ("redirect" = Option<String>, Query, description = "Cookie delivery: the path of the app (under `APP_URL`) to land on afterwards, `/` by default; never another site."),
    ),
    responses(
        (status = 302, description = "To the provider's authorization endpoint.",
            headers(("Location" = String, description = "The provider's authorization URL with `state`, `code_challenge` (S256) and, for Google, `nonce`."),
                ("Set-Cookie" = String, description = "The flow cookie."))),
        OAuthRefused, NotFound, RateLimited, IdentityProviderError,
    ),
    security(()),
)]
pub fn oauth_start() {}

/// Where the provider sends the browser back: checks the flow cookie against `state` (one use),
/// exchanges the code with the PKCE verifier, verifies the ID token (Google) or reads the
/// verified primary address (GitHub), and signs in: the account linked to this identity, or the
/// account of the provider-verified address (linked now; an unverified one is taken back first),
/// or a new one. Then as every sign-in: a second factor is asked for when the account has one.
#[utoipa::path(get, operation_id = "oauth_callback", path = "/auth/oauth/{provider}/callback", tag = "auth",
    params(
        ("provider" = String, Path, description = "`google` or `github`."),
        ("code" = Option<String>, Query, description = "The authorization code."),
        ("state" = Option<String>, Query, description = "The `state` the start sent, which the flow cookie must carry."),
        ("error" = Option<String>, Query, description = "Set by the provider when the person declined."),
        ("iss" = Option<String>, Query, description = "RFC 9207: when sent, the issuer (Google)."),
    ),
    responses(
        (status = 200, description = "Signed in (`delivery=body`).", body = Tokens,
            headers(("Set-Cookie" = String, description = "The device cookie; the flow cookie cleared."))),
        (status = 303, description = "Signed in (`delivery=cookie`): the session cookies are set and the browser goes on to the app.",
            headers(("Location" = String, description = "`APP_URL` and the start's `redirect` path."),
                ("Set-Cookie" = String, description = "Session cookies, the device cookie; the flow cookie cleared."))),
        OAuthRefused, OAuthUnauthorized, OAuthForbidden, NotFound, Conflict, RateLimited,
        IdentityProviderError,
    ),
    security(()),
)]
pub fn oauth_callback() {}
