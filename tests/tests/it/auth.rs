//! auth-api over HTTP against the spawned local stack: every route, and the attacks the design
//! has to defeat.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart::auth::jwt;
use rampart::clock::{ManualClock, SharedClock};
use rampart::store::Query;
use rampart_tests::{TestApp, embedded_state, manual_clock, settings, spawn_app_with};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

/// The stack on a manual clock, believing X-Forwarded-For from loopback so tests can act from
/// several client addresses.
async fn app_with(extra: &[(&str, &str)]) -> (TestApp, Arc<ManualClock>) {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let mut pairs = vec![
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example"),
    ];
    pairs.extend_from_slice(extra);
    (
        spawn_app_with(embedded_state(settings(&pairs), shared)).await,
        clock,
    )
}

/// A minimal cookie jar: what a browser would send back.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_string(), val.to_string());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn get(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }
}

async fn post(app: &TestApp, path: &str, body: Value, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn register(app: &TestApp, email: &str) -> Value {
    let r = post(
        app,
        "/auth/register",
        json!({"email": email, "password": PW}),
        "198.51.100.1",
    )
    .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Logs in with body delivery: (access, refresh).
async fn login_body(app: &TestApp, email: &str, ip: &str) -> (String, String) {
    let r = post(
        app,
        "/auth/login",
        json!({"email": email, "password": PW, "delivery": "body"}),
        ip,
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    (
        b["access_token"].as_str().unwrap().into(),
        b["refresh_token"].as_str().unwrap().into(),
    )
}

async fn login_cookie(app: &TestApp, email: &str) -> Jar {
    let r = post(
        app,
        "/auth/login",
        json!({"email": email, "password": PW}),
        "198.51.100.2",
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    jar
}

async fn me_bearer(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn outbox(app: &TestApp, to: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

fn code_in(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string()
}

fn token_in(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split(": ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn register_validates_and_refuses_taken_emails() {
    let (app, _) = app_with(&[]).await;
    let b = register(&app, "Alice@Example.com").await;
    assert_eq!(b["email"], "alice@example.com");
    assert_eq!(b["id"].as_str().unwrap().len(), 32);
    let again = post(
        &app,
        "/auth/register",
        json!({"email": "alice@example.com", "password": PW}),
        "198.51.100.1",
    )
    .await;
    assert_eq!(again.status(), 409);
    for (email, pw, field) in [
        ("bob@example.com", "short", "/password"),
        ("bob@example.com", "1qaz2wsx3edc", "/password"),
        ("bob@example.com", "bob-is-the-best-ever", "/password"),
        ("not-an-email", PW, "/email"),
    ] {
        let r = post(
            &app,
            "/auth/register",
            json!({"email": email, "password": pw}),
            "198.51.100.1",
        )
        .await;
        assert_eq!(r.status(), 422, "{email} {pw}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["pointer"], field);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn cookie_and_body_delivery_and_me_with_both() {
    let (app, _) = app_with(&[]).await;
    register(&app, "carol@example.com").await;
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "carol@example.com", "password": PW}),
        "198.51.100.2",
    )
    .await;
    assert_eq!(r.status(), 200);
    let set: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let find = |name: &str| {
        set.iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap()
            .clone()
    };
    let access = find("access_token");
    assert!(
        access.contains("HttpOnly")
            && access.contains("SameSite=Lax")
            && access.contains("Path=/;")
    );
    let refresh = find("refresh_token");
    assert!(refresh.contains("HttpOnly") && refresh.contains("Path=/auth"));
    let csrf = find("csrf_token");
    assert!(
        !csrf.contains("HttpOnly"),
        "scripts must read the CSRF token"
    );
    assert!(
        !access.contains("Secure"),
        "no Secure outside production unless configured"
    );
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body.get("refresh_token").is_none(),
        "cookie delivery keeps the refresh token out of reach of scripts"
    );

    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["cache-control"], "no-store");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["email"], "carol@example.com");
    assert_eq!(me["plan"], "free");
    assert_eq!(me["email_verified"], false);
    for k in ["id", "subscription_status", "created_at"] {
        assert!(me.get(k).is_some(), "{k}");
    }

    let (access, _) = login_body(&app, "carol@example.com", "198.51.100.3").await;
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "carol@example.com", "password": PW, "delivery": "body"}),
        "198.51.100.3",
    )
    .await;
    assert!(
        r.headers().get("set-cookie").is_none(),
        "body delivery sets no cookie"
    );
    let me = me_bearer(&app, &access).await;
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.json::<Value>().await.unwrap()["email"],
        "carol@example.com"
    );
    assert_eq!(
        app.client
            .get(app.url("/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    app.shutdown().await;
}

#[tokio::test]
async fn production_cookies_are_secure_and_prefixed() {
    let (app, _) = app_with(&[("COOKIE_SECURE", "true")]).await;
    register(&app, "dan@example.com").await;
    let jar = login_cookie(&app, "dan@example.com").await;
    assert!(jar.0.contains_key("__Host-access_token"));
    assert!(jar.0.contains_key("__Secure-refresh_token"));
    assert!(jar.0.contains_key("__Host-csrf_token"));
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "dan@example.com", "password": PW}),
        "198.51.100.4",
    )
    .await;
    for c in r.headers().get_all("set-cookie") {
        assert!(c.to_str().unwrap().contains("; Secure"), "{c:?}");
    }
    app.shutdown().await;
}

fn forge(claims: &Value, header: &Value, key: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = URL_SAFE_NO_PAD.encode(rampart::crypto::hmac_sha256(
        key,
        format!("{h}.{c}").as_bytes(),
    ));
    format!("{h}.{c}.{sig}")
}

#[tokio::test]
async fn forged_expired_and_retired_tokens_are_refused() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "erin@example.com").await;
    let (access, _) = login_body(&app, "erin@example.com", "198.51.100.5").await;
    assert_eq!(me_bearer(&app, &access).await.status(), 200);
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    // alg: none, with and without a signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"t1"}"#);
    for t in [
        format!("{none_header}.{}.", parts[1]),
        format!("{none_header}.{}.{}", parts[1], parts[2]),
    ] {
        assert_eq!(me_bearer(&app, &t).await.status(), 401);
    }
    // Tampered claims keep the old signature.
    let mut evil = claims.clone();
    evil["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(evil.to_string()),
        parts[2]
    );
    assert_eq!(me_bearer(&app, &tampered).await.status(), 401);
    // Tampered signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(me_bearer(&app, &bad_sig).await.status(), 401);
    // Signed with a key this deployment no longer (or never) holds.
    let retired = forge(
        &claims,
        &json!({"alg": "HS256", "typ": "JWT", "kid": "retired-2025"}),
        b"old key material that leaked",
    );
    assert_eq!(me_bearer(&app, &retired).await.status(), 401);
    // Another algorithm with the right kid.
    let hs512 = forge(&claims, &json!({"alg": "HS512", "kid": "t1"}), b"x");
    assert_eq!(me_bearer(&app, &hs512).await.status(), 401);
    // Expired: 15 minutes plus the 30 s leeway.
    clock.advance(Duration::from_secs(
        (jwt::ACCESS_TTL_SECS + jwt::LEEWAY_SECS) as u64,
    ));
    let r = me_bearer(&app, &access).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    app.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (app, _) = app_with(&[]).await;
    let user = register(&app, "fay@example.com").await;
    let (access1, refresh1) = login_body(&app, "fay@example.com", "198.51.100.6").await;
    let r = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh1}),
        "198.51.100.6",
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let (access2, refresh2) = (
        b["access_token"].as_str().unwrap().to_string(),
        b["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(refresh1, refresh2, "rotated");
    assert_eq!(me_bearer(&app, &access2).await.status(), 200);

    // The old token shows up again (a thief replaying it): the whole session dies.
    let reuse = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh1}),
        "203.0.113.66",
    )
    .await;
    assert_eq!(reuse.status(), 401);
    let victim = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh2}),
        "198.51.100.6",
    )
    .await;
    assert_eq!(
        victim.status(),
        401,
        "the newest token of the family is dead too"
    );
    assert_eq!(
        me_bearer(&app, &access2).await.status(),
        401,
        "and so are its access tokens"
    );
    assert_eq!(me_bearer(&app, &access1).await.status(), 401);

    let audit = app
        .state
        .store
        .query(Query::table(format!(
            "audit#{}",
            user["id"].as_str().unwrap()
        )))
        .await
        .unwrap();
    let kinds: Vec<&str> = audit.items.iter().filter_map(|i| i.s("kind")).collect();
    assert!(kinds.contains(&"refresh_reuse"), "{kinds:?}");
    assert!(kinds.contains(&"login_success"));
    for i in &audit.items {
        let text = format!("{i:?}");
        assert!(
            !text.contains("fay@example.com") && !text.contains("198.51.100.6"),
            "no raw email or IP: {text}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn cookie_refresh_needs_csrf_and_rotates_cookies() {
    let (app, _) = app_with(&[]).await;
    register(&app, "gus@example.com").await;
    let mut jar = login_cookie(&app, "gus@example.com").await;
    let without = app
        .client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 403);
    let r = app
        .client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let old_refresh = jar.get("refresh_token");
    jar.absorb(r.headers());
    assert_ne!(jar.get("refresh_token"), old_refresh);
    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn csrf_and_origin_rules_for_cookie_requests() {
    let (app, _) = app_with(&[]).await;
    register(&app, "hal@example.com").await;
    let jar = login_cookie(&app, "hal@example.com").await;
    let other = login_cookie(&app, "hal@example.com").await;
    let logout = |jar: &Jar, csrf: Option<String>, origin: Option<&'static str>| {
        let mut r = app
            .client
            .post(app.url("/auth/logout"))
            .header("cookie", jar.header());
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(
        logout(&jar, None, None).await.unwrap().status(),
        403,
        "missing"
    );
    assert_eq!(
        logout(&jar, Some("forged".into()), None)
            .await
            .unwrap()
            .status(),
        403,
        "mismatched"
    );
    // A token from another session, sent as both header and cookie, still does not verify.
    let mut mixed = jar.clone();
    mixed.0.insert("csrf_token".into(), other.get("csrf_token"));
    assert_eq!(
        logout(&mixed, Some(other.get("csrf_token")), None)
            .await
            .unwrap()
            .status(),
        403,
        "other session"
    );
    let body: Value = logout(&jar, None, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:forbidden");
    // Right token, hostile origin.
    let r = logout(
        &jar,
        Some(jar.get("csrf_token")),
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403, "cross-origin");
    // Right token from an allowed origin: logged out, cookies cleared.
    let r = logout(
        &jar,
        Some(jar.get("csrf_token")),
        Some("https://app.example"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let cleared: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cleared.len(), 3);
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")));
    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "logout applies to the access token at once"
    );
    // GET needs no CSRF token; the other session is still alive.
    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", other.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn bearer_requests_skip_csrf_and_logout_kills_the_token() {
    let (app, _) = app_with(&[]).await;
    register(&app, "ida@example.com").await;
    let (access, refresh) = login_body(&app, "ida@example.com", "198.51.100.7").await;
    let r = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(me_bearer(&app, &access).await.status(), 401);
    let r = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh}),
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status(), 401, "the session's refresh token died with it");
    app.shutdown().await;
}

async fn timed(f: impl std::future::Future<Output = reqwest::Response>) -> (u16, String, Duration) {
    let t = Instant::now();
    let r = f.await;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (status, body, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn unknown_and_known_emails_are_indistinguishable() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "jo@example.com").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..4 {
        let ip = format!("192.0.2.{}", 10 + i);
        let k = timed(post(
            &app,
            "/auth/login",
            json!({"email": "jo@example.com", "password": "wrong password here"}),
            &ip,
        ))
        .await;
        let u = timed(post(
            &app,
            "/auth/login",
            json!({"email": "nobody@example.com", "password": "wrong password here"}),
            &ip,
        ))
        .await;
        assert_eq!((k.0, &k.1), (u.0, &u.1), "same status and body");
        assert_eq!(k.0, 401);
        known.push(k.2);
        unknown.push(u.2);
    }
    let (k, u) = (median(known), median(unknown));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "login timing differs: known {k:?} unknown {u:?}"
    );

    for path in ["/auth/otp/request", "/auth/password/forgot"] {
        clock.advance(Duration::from_secs(61));
        let k = timed(post(
            &app,
            path,
            json!({"email": "jo@example.com"}),
            "192.0.2.50",
        ))
        .await;
        let u = timed(post(
            &app,
            path,
            json!({"email": "nobody@example.com"}),
            "192.0.2.51",
        ))
        .await;
        assert_eq!(k.0, 202, "{path}");
        assert_eq!((k.0, &k.1), (u.0, &u.1), "{path}: same status and body");
        let ratio = k.2.as_secs_f64() / u.2.as_secs_f64();
        assert!(
            (0.33..3.0).contains(&ratio),
            "{path} timing differs: {:?} vs {:?}",
            k.2,
            u.2
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn email_code_signs_up_once_and_is_single_use() {
    let (app, _) = app_with(&[]).await;
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": "kim@example.com"}),
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status(), 202);
    assert!(r.headers().contains_key("ratelimit"));
    let mails = outbox(&app, "kim@example.com").await;
    assert_eq!(mails.len(), 1);
    let code = code_in(&mails[0]);
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "kim@example.com", "code": code, "delivery": "body"}),
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let me: Value = me_bearer(&app, b["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "kim@example.com");
    assert_eq!(
        me["email_verified"], true,
        "passwordless sign-up verified the address"
    );
    assert_eq!(me["plan"], "free");
    let again = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "kim@example.com", "code": code}),
        "198.51.100.8",
    )
    .await;
    assert_eq!(again.status(), 401, "single use");
    // The stored code is a hash, never the code.
    let pepper = app.state.hash_pepper().await.unwrap();
    let eh = rampart::crypto::keyed_hash(&pepper, "email", "kim@example.com");
    assert!(
        app.state
            .store
            .get(&format!("otp#{eh}"), "code")
            .await
            .unwrap()
            .is_none(),
        "consumed"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn code_brute_force_stops_at_five_tries() {
    let (app, _) = app_with(&[]).await;
    post(
        &app,
        "/auth/otp/request",
        json!({"email": "lee@example.com"}),
        "198.51.100.9",
    )
    .await;
    let code = code_in(&outbox(&app, "lee@example.com").await[0]);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let r = post(
            &app,
            "/auth/otp/verify",
            json!({"email": "lee@example.com", "code": wrong}),
            "198.51.100.9",
        )
        .await;
        assert_eq!(r.status(), 401);
    }
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "lee@example.com", "code": code}),
        "198.51.100.9",
    )
    .await;
    assert_eq!(
        r.status(),
        401,
        "the right code after five wrong tries is refused: the code is dead"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn code_expires_after_ten_minutes() {
    let (app, clock) = app_with(&[]).await;
    post(
        &app,
        "/auth/otp/request",
        json!({"email": "max@example.com"}),
        "198.51.100.10",
    )
    .await;
    let code = code_in(&outbox(&app, "max@example.com").await[0]);
    clock.advance(Duration::from_secs(600));
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "max@example.com", "code": code}),
        "198.51.100.10",
    )
    .await;
    assert_eq!(r.status(), 401);
    app.shutdown().await;
}

async fn assert_limited_at(
    app: &TestApp,
    path: &str,
    n: usize,
    body: impl Fn(usize) -> Value,
    ip: &str,
) {
    for i in 0..n {
        let r = post(app, path, body(i), ip).await;
        assert_ne!(
            r.status(),
            429,
            "{path}: request {} of {n} was limited",
            i + 1
        );
        assert!(r.headers().contains_key("ratelimit-policy"), "{path}");
    }
    let r = post(app, path, body(n), ip).await;
    assert_eq!(r.status(), 429, "{path}: request {} must be limited", n + 1);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn each_rate_limit_bites_exactly_at_its_number() {
    let (app, clock) = app_with(&[]).await;
    let creds = |_| json!({"email": "nobody@example.com", "password": "whatever it is"});
    assert_limited_at(&app, "/auth/login", 5, creds, "203.0.113.1").await;
    assert_limited_at(
        &app,
        "/auth/refresh",
        10,
        |_| json!({"refresh_token": "nope"}),
        "203.0.113.2",
    )
    .await;
    assert_limited_at(
        &app,
        "/auth/password/forgot",
        3,
        |_| json!({"email": "x@example.com"}),
        "203.0.113.3",
    )
    .await;
    // Email codes: per email+IP 1 per 60 s...
    assert_limited_at(
        &app,
        "/auth/otp/request",
        1,
        |_| json!({"email": "otp@example.com"}),
        "203.0.113.4",
    )
    .await;
    // ...and 5 per 24 h...
    for _ in 0..4 {
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            post(
                &app,
                "/auth/otp/request",
                json!({"email": "otp@example.com"}),
                "203.0.113.4"
            )
            .await
            .status(),
            202
        );
    }
    clock.advance(Duration::from_secs(61));
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": "otp@example.com"}),
        "203.0.113.4",
    )
    .await;
    assert_eq!(r.status(), 429, "the sixth code of the day");
    // ...and per IP 25 per 24 h, whatever the email.
    assert_limited_at(
        &app,
        "/auth/otp/request",
        25,
        |i| json!({"email": format!("u{i}@example.com")}),
        "203.0.113.5",
    )
    .await;
    app.shutdown().await;
}

#[tokio::test]
async fn account_locks_after_ten_failures_from_anywhere() {
    let (app, _) = app_with(&[]).await;
    register(&app, "ned@example.com").await;
    for i in 0..10 {
        let r = post(
            &app,
            "/auth/login",
            json!({"email": "ned@example.com", "password": "not the password"}),
            &format!("192.0.2.{}", 100 + i),
        )
        .await;
        assert_eq!(r.status(), 401, "failure {}", i + 1);
    }
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "ned@example.com", "password": PW}),
        "192.0.2.200",
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "even the right password waits out the lockout"
    );
    assert!(r.headers().contains_key("retry-after"));
    // An unknown email behaves the same, so the lockout reveals nothing.
    for i in 0..10 {
        post(
            &app,
            "/auth/login",
            json!({"email": "ghost@example.com", "password": "not the password"}),
            &format!("192.0.2.{}", 120 + i),
        )
        .await;
    }
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "ghost@example.com", "password": PW}),
        "192.0.2.201",
    )
    .await;
    assert_eq!(r.status(), 429);
    app.shutdown().await;
}

#[tokio::test]
async fn password_change_keeps_this_session_and_revokes_others() {
    let (app, _) = app_with(&[]).await;
    register(&app, "ola@example.com").await;
    let (mine, _) = login_body(&app, "ola@example.com", "198.51.100.11").await;
    let (theirs, _) = login_body(&app, "ola@example.com", "198.51.100.12").await;
    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/auth/password/change"))
            .bearer_auth(&mine)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    assert_eq!(
        change("wrong current password", "a brand new passphrase")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(change(PW, "short").await.unwrap().status(), 422);
    assert_eq!(
        change(PW, "a brand new passphrase").await.unwrap().status(),
        204
    );
    assert_eq!(
        me_bearer(&app, &mine).await.status(),
        200,
        "this session stays"
    );
    assert_eq!(
        me_bearer(&app, &theirs).await.status(),
        401,
        "every other session is revoked"
    );
    let old = post(
        &app,
        "/auth/login",
        json!({"email": "ola@example.com", "password": PW}),
        "198.51.100.13",
    )
    .await;
    assert_eq!(old.status(), 401);
    let new = post(
        &app,
        "/auth/login",
        json!({"email": "ola@example.com", "password": "a brand new passphrase"}),
        "198.51.100.13",
    )
    .await;
    assert_eq!(new.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn password_reset_is_single_use_and_revokes_everything() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "pia@example.com").await;
    let (access, _) = login_body(&app, "pia@example.com", "198.51.100.14").await;
    assert_eq!(
        post(
            &app,
            "/auth/password/forgot",
            json!({"email": "pia@example.com"}),
            "198.51.100.14"
        )
        .await
        .status(),
        202
    );
    let token = token_in(&outbox(&app, "pia@example.com").await[0]);
    let reset = |pw: &'static str, token: String| {
        post(
            &app,
            "/auth/password/reset",
            json!({"token": token, "new_password": pw}),
            "198.51.100.14",
        )
    };
    assert_eq!(
        reset("short", token.clone()).await.status(),
        422,
        "policy applies"
    );
    assert_eq!(
        reset("the reset passphrase 1", token.clone())
            .await
            .status(),
        204
    );
    assert_eq!(
        me_bearer(&app, &access).await.status(),
        401,
        "every session revoked"
    );
    assert_eq!(
        reset("another passphrase 22", token).await.status(),
        400,
        "single use"
    );
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "pia@example.com", "password": "the reset passphrase 1"}),
        "198.51.100.15",
    )
    .await;
    assert_eq!(r.status(), 200);
    // A second token expires after 30 minutes.
    post(
        &app,
        "/auth/password/forgot",
        json!({"email": "pia@example.com"}),
        "198.51.100.16",
    )
    .await;
    let late = token_in(&outbox(&app, "pia@example.com").await[0]);
    clock.advance(Duration::from_secs(1800));
    assert_eq!(reset("too late passphrase 3", late).await.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn the_owner_takes_back_an_address_someone_registered_first() {
    let (app, _) = app_with(&[]).await;
    register(&app, "victim@example.com").await;
    let (squatter, squatter_refresh) = login_body(&app, "victim@example.com", "203.0.113.20").await;
    post(
        &app,
        "/auth/otp/request",
        json!({"email": "victim@example.com"}),
        "198.51.100.20",
    )
    .await;
    let code = code_in(&outbox(&app, "victim@example.com").await[0]);
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "victim@example.com", "code": code, "delivery": "body"}),
        "198.51.100.20",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        me_bearer(&app, &squatter).await.status(),
        401,
        "the squatter's session is gone"
    );
    let again = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": squatter_refresh}),
        "203.0.113.20",
    )
    .await;
    assert_eq!(again.status(), 401);
    let pw = post(
        &app,
        "/auth/login",
        json!({"email": "victim@example.com", "password": PW}),
        "203.0.113.21",
    )
    .await;
    assert_eq!(pw.status(), 401, "and so is the password they set");
    app.shutdown().await;
}

#[tokio::test]
async fn fresh_codes_do_not_buy_fresh_guesses() {
    let (app, clock) = app_with(&[]).await;
    let mut refused = None;
    for round in 0..3 {
        clock.advance(Duration::from_secs(61));
        let ip = format!("198.51.100.{}", 30 + round);
        post(
            &app,
            "/auth/otp/request",
            json!({"email": "quinn@example.com"}),
            &ip,
        )
        .await;
        for _ in 0..5 {
            let r = post(
                &app,
                "/auth/otp/verify",
                json!({"email": "quinn@example.com", "code": "999999x"}),
                &ip,
            )
            .await;
            if r.status() == 429 {
                refused.get_or_insert(round);
            }
        }
    }
    assert_eq!(
        refused,
        Some(2),
        "the eleventh guess across codes is refused"
    );
    let code = code_in(&outbox(&app, "quinn@example.com").await[0]);
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": "quinn@example.com", "code": code}),
        "198.51.100.40",
    )
    .await;
    assert_eq!(r.status(), 429, "even the right code waits out the day");
    app.shutdown().await;
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_lockout() {
    let (app, _) = app_with(&[]).await;
    register(&app, "rae@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (client, url) = (app.client.clone(), app.url("/auth/login"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .header("x-forwarded-for", format!("192.0.2.{}", 10 + i))
                .json(&json!({"email": "rae@example.com", "password": "a wrong guess"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut guesses = 0;
    for t in tasks {
        if t.await.unwrap() == 401 {
            guesses += 1;
        }
    }
    assert_eq!(guesses, 10, "exactly ten guesses were checked");
    app.shutdown().await;
}

#[tokio::test]
async fn logout_works_after_the_access_token_expired() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "sam@example.com").await;
    let jar = login_cookie(&app, "sam@example.com").await;
    clock.advance(Duration::from_secs(16 * 60));
    let no_csrf = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_csrf.status(),
        403,
        "the refresh cookie obeys the CSRF rule too"
    );
    let r = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let refresh = app
        .client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 401, "the session is over");
    app.shutdown().await;
}

#[tokio::test]
async fn a_password_change_retires_older_reset_tokens() {
    let (app, _) = app_with(&[]).await;
    register(&app, "uma@example.com").await;
    post(
        &app,
        "/auth/password/forgot",
        json!({"email": "uma@example.com"}),
        "198.51.100.50",
    )
    .await;
    let old_token = token_in(&outbox(&app, "uma@example.com").await[0]);
    let (access, _) = login_body(&app, "uma@example.com", "198.51.100.51").await;
    let r = app
        .client
        .post(app.url("/auth/password/change"))
        .bearer_auth(&access)
        .json(&json!({"current_password": PW, "new_password": "a changed passphrase 7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        me_bearer(&app, &access).await.status(),
        200,
        "the changing session survives"
    );
    let r = post(
        &app,
        "/auth/password/reset",
        json!({"token": old_token, "new_password": "attacker passphrase 99"}),
        "203.0.113.9",
    )
    .await;
    assert_eq!(
        r.status(),
        400,
        "a reset link mailed before the change no longer works"
    );
    // And the session generation is what ends sessions, not only the per-session flags.
    let r = post(&app, "/auth/login", json!({"email": "uma@example.com", "password": "a changed passphrase 7", "delivery": "body"}), "198.51.100.52").await;
    assert_eq!(r.status(), 200);
    let other = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let user_id = me_bearer(&app, &other).await.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (pk, sk) = rampart::store::keys::user(&user_id);
    let bump = rampart::store::Update::new().add(rampart::auth::session::GEN, 1);
    app.state.store.update(&pk, &sk, bump, None).await.unwrap();
    assert_eq!(me_bearer(&app, &other).await.status(), 401);
    app.shutdown().await;
}
