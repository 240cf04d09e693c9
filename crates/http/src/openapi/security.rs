//! The security schemes routes name in `security(...)`: the user's credentials (Bearer token,
//! session cookie with the CSRF header, refresh cookie), the operator's token, customer API keys
//! and each webhook provider's signature header.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};

/// The security schemes routes may name in `security(...)`.
pub const SCHEMES: &[&str] = &[
    "bearer",
    "session_cookie",
    "csrf_header",
    "refresh_cookie",
    "admin_bearer",
    "api_key",
    "stripe_signature",
    "square_signature",
    "docusign_signature",
    "twilio_signature",
    "standard_webhooks",
];

/// The schemes that are credentials (a refusal is 401).
pub(super) const CREDENTIALS: &[&str] = &[
    "bearer",
    "session_cookie",
    "refresh_cookie",
    "admin_bearer",
    "api_key",
];

fn api_key_header(name: &str, description: &str) -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
        name,
        description,
    )))
}

pub(super) fn scheme(name: &str) -> SecurityScheme {
    let bearer = |description: &str| {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(description.into());
        SecurityScheme::Http(http)
    };
    let cookie = |cookie: &str, description: &str| {
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            cookie,
            description,
        )))
    };
    match name {
        "bearer" => {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.bearer_format = Some("JWT".into());
            http.description =
                Some("An access token from sign-in or refresh (`delivery: \"body\"`).".into());
            SecurityScheme::Http(http)
        }
        "session_cookie" => cookie(
            "access_token",
            "The httpOnly access-token cookie of a web sign-in (`__Host-access_token` with \
             COOKIE_SECURE). A POST with it also needs `csrf_header`.",
        ),
        "csrf_header" => api_key_header(
            "X-CSRF-Token",
            "Double submit: equal to the `csrf_token` cookie (OWASP CSRF Prevention Cheat \
             Sheet). Required with a session or refresh cookie, never with a Bearer token.",
        ),
        "refresh_cookie" => cookie(
            "refresh_token",
            "The httpOnly refresh-token cookie (`Path=/auth`; `__Secure-refresh_token` with \
             COOKIE_SECURE).",
        ),
        "admin_bearer" => bearer("The operator token, `ADMIN_API_TOKEN`."),
        "api_key" => api_key_header(
            "X-API-Key",
            "A customer instance's key, `rk_live_<key id>_<secret>` (`rk_test_` outside \
             production).",
        ),
        "stripe_signature" => api_key_header(
            "Stripe-Signature",
            "`t=<unix time>,v1=<HMAC-SHA256 hex>` over `t.body` (Stripe's webhook signing).",
        ),
        "square_signature" => api_key_header(
            "x-square-hmacsha256-signature",
            "Base64 HMAC-SHA256 over SQUARE_WEBHOOK_URL followed by the body.",
        ),
        "docusign_signature" => api_key_header(
            "X-DocuSign-Signature-1",
            "Base64 HMAC-SHA256 of the body (DocuSign Connect; `-2`... for more keys).",
        ),
        "twilio_signature" => api_key_header(
            "X-Twilio-Signature",
            "Base64 HMAC-SHA1 over PUBLIC_BASE_URL + path + sorted form parameters.",
        ),
        "standard_webhooks" => api_key_header(
            "webhook-signature",
            "Standard Webhooks: `v1,<base64 HMAC-SHA256>` over `webhook-id.webhook-timestamp.body` \
             with the source's secret; `webhook-id` and `webhook-timestamp` headers too.",
        ),
        other => panic!("unknown security scheme {other}"),
    }
}
