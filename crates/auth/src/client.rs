//! The coarse class of the client a session was started from (`browser`, `mobile`, `api`), so
//! the owner can tell their sessions apart (OWASP ASVS 5.0 V7.5.2: users can view their active
//! sessions). Only the class is kept, never the User-Agent string itself: enough to recognise a
//! session, nothing more to store about the person (GDPR art. 5(1)(c), data minimisation).
//!
//! `auth-api` runs every request inside `scope` (a layer), so whichever flow starts a session
//! reads the class of the request it serves without every sign-in path passing it along.

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static CLASS: &'static str;
}

/// The class of a client by its User-Agent: a phone or tablet browser or app toolkit is
/// `mobile`, any other browser `browser`, anything else (curl, SDKs, servers) `api`.
pub fn classify(user_agent: Option<&str>) -> &'static str {
    let Some(ua) = user_agent.map(str::to_ascii_lowercase) else {
        return "api";
    };
    const MOBILE: &[&str] = &[
        "mobile",
        "android",
        "iphone",
        "ipad",
        "ipod",
        "okhttp",
        "cfnetwork",
        "dalvik",
    ];
    if MOBILE.iter().any(|m| ua.contains(m)) {
        "mobile"
    } else if ua.starts_with("mozilla/") || ua.starts_with("opera/") {
        "browser"
    } else {
        "api"
    }
}

fn of_headers(headers: &HeaderMap) -> &'static str {
    classify(
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The layer: the rest of the request runs knowing its client's class.
pub async fn scope(req: Request, next: Next) -> Response {
    let class = of_headers(req.headers());
    CLASS.scope(class, next.run(req)).await
}

/// The class of the client being served, if the request runs inside `scope`.
pub fn current() -> Option<&'static str> {
    CLASS.try_with(|c| *c).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_fall_into_three_coarse_classes() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";
        assert_eq!(classify(Some(firefox)), "browser");
        assert_eq!(classify(Some(iphone)), "mobile");
        assert_eq!(classify(Some("okhttp/4.12.0")), "mobile");
        assert_eq!(classify(Some("curl/8.5.0")), "api");
        assert_eq!(classify(None), "api");
    }
}
