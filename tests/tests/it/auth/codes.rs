//! Email sign-in codes: sign-up on first use, single use, expiry, guess limits, and the
//! owner of an address taking it back.

use std::time::Duration;

use serde_json::{Value, json};

use super::{PW, app_with, code_in, login_body, me_bearer, outbox, post, register};

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
