//! Access tokens, refresh rotation with reuse detection, logout, and when a session starts
//! or ends.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_auth::jwt;
use rampart_auth::{User, session};
use rampart_store::{Condition, Query, keys};
use serde_json::{Value, json};

use super::{app_with, login_body, login_cookie, me_bearer, post, register};

fn forge(claims: &Value, header: &Value, key: &[u8]) -> String {
    let h = URL_SAFE_NO_PAD.encode(header.to_string());
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    let sig = URL_SAFE_NO_PAD.encode(rampart_platform::crypto::hmac_sha256(
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

/// RFC 7515 §4.1.11: a recipient must reject a token naming critical extensions it does not
/// understand. The token here is otherwise perfect (live session, current key, right type), as
/// the control without `crit` shows.
#[tokio::test]
async fn a_token_with_a_crit_header_is_refused_like_any_invalid_token() {
    let (app, _) = app_with(&[]).await;
    register(&app, "crit@example.com").await;
    let (access, _) = login_body(&app, "crit@example.com", "198.51.100.6").await;
    let parts: Vec<&str> = access.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap().to_string();
    let keys = rampart_auth::signing_keys(&app.state, Some(&kid))
        .await
        .unwrap();
    let key = keys.iter().find(|(k, _)| *k == kid).unwrap().1.clone();

    let same = forge(&claims, &header, key.as_bytes());
    assert_eq!(me_bearer(&app, &same).await.status(), 200, "the control");
    for crit in [
        json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "crit": ["x-rampart-ext"], "x-rampart-ext": "on"}),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
    ] {
        let r = me_bearer(&app, &forge(&claims, &crit, key.as_bytes())).await;
        assert_eq!(r.status(), 401, "{crit}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], "urn:rampart:problem:unauthorized", "{body}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (app, clock) = app_with(&[]).await;
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

    // The old token shows up again (a thief replaying it), later than two tabs refreshing at
    // once would: the whole session dies.
    clock.advance(Duration::from_secs(11));
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

/// A login starts its session only if the password it verified is still the account's; a
/// password change landing in between refuses that login (401), it does not fail it (this once
/// answered 500: the error was matched by the position of another write).
#[tokio::test]
async fn a_login_racing_a_password_change_is_refused_not_failed() {
    let (app, _) = app_with(&[]).await;
    let user = register(&app, "vic@example.com").await;
    let user_id = user["id"].as_str().unwrap();
    let verified_meanwhile_replaced = Condition::eq(User::PASSWORD_HASH, "the hash before");
    let err = session::create_checked(&app.state, user_id, Some(verified_meanwhile_replaced))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 401, "{err:?}");
    let sessions = app
        .state
        .store
        .query(Query::table(keys::user(user_id).0).prefix(keys::SESSION_PREFIX))
        .await
        .unwrap();
    assert!(sessions.items.is_empty(), "no session was started");
    app.shutdown().await;
}
