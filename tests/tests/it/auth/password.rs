//! Password change and password reset: what each ends and what survives.

use std::time::Duration;

use serde_json::{Value, json};

use super::{PW, app_with, login_body, me_bearer, post, register, reset_token};

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
    let token = reset_token(&app, "pia@example.com").await;
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
    let late = reset_token(&app, "pia@example.com").await;
    clock.advance(Duration::from_secs(1800));
    assert_eq!(reset("too late passphrase 3", late).await.status(), 400);
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
    let old_token = reset_token(&app, "uma@example.com").await;
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
    let (pk, sk) = rampart_store::keys::user(&user_id);
    let bump = rampart_store::Update::new().add(rampart_auth::User::SESSION_GEN, 1);
    app.state.store.update(&pk, &sk, bump, None).await.unwrap();
    assert_eq!(me_bearer(&app, &other).await.status(), 401);
    app.shutdown().await;
}
