//! Token delivery as cookies or in the body, cookie attributes, and the CSRF and Origin
//! rules every cookie-carried credential obeys.

use serde_json::{Value, json};

use super::{Jar, PW, app_with, login_body, login_cookie, me_bearer, post, register};

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
    let set: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(
        set[0].starts_with("device="),
        "body delivery sets no session cookie, only the device cookie: {set:?}"
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
async fn cookie_delivery_keeps_the_access_token_out_of_the_body() {
    let (app, _) = app_with(&[]).await;
    register(&app, "cora@example.com").await;
    let r = post(
        &app,
        "/auth/login",
        json!({"email": "cora@example.com", "password": PW, "delivery": "cookie"}),
        "198.51.100.9",
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    assert!(
        !jar.get("access_token").is_empty(),
        "the token is in its cookie"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"token_type": "Bearer", "expires_in": 900, "delivery": "cookie"}),
        "a script on the page can read the body: no token in it"
    );

    // A cookie refresh answers the same way.
    let r = app
        .client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"token_type": "Bearer", "expires_in": 900, "delivery": "cookie"})
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
