//! The TOTP second factor through the real routes: enrolment, sign-in with password or email
//! code then a code (each code once, one step of drift either way), recovery codes, the shared
//! sign-in throttle, disabling, and what the export says (deleting such an account:
//! `two_factor_delete`).

use std::time::Duration;

use rampart_auth::totp::{code_at, step_of};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Fx, Jar, PW, login_body, me_bearer, post, register, sign_in_code, verification_code};

super::on_both_backends!(
    with_totp_on_the_password_alone_gives_no_session,
    a_totp_code_is_accepted_once,
    a_code_from_two_steps_ago_is_refused,
    brute_forcing_the_second_factor_hits_the_sign_in_throttle,
    a_recovery_code_signs_in_once,
    disabling_needs_a_fresh_second_factor,
);

pub(super) const IP: &str = "198.51.100.70";

/// RFC 4648 base32 without padding, as the setup answers the secret.
fn unbase32(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in s.bytes() {
        let v = alphabet.iter().position(|a| *a == c).expect("base32") as u64;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// An account with TOTP on: (access token, secret, recovery codes). The clock then moves one
/// step on, so the confirming code's step is behind.
pub(super) async fn enrolled(fx: &Fx, email: &str) -> (String, Vec<u8>, Vec<String>) {
    let (app, clock) = fx;
    register(app, email).await;
    let code = verification_code(app, email).await;
    let r = post(
        app,
        "/auth/verify-email",
        json!({"email": email, "code": code}),
        IP,
    )
    .await;
    assert_eq!(r.status(), 200);
    let (access, _) = login_body(app, email, IP).await;
    let r = bearer_post(app, "/auth/2fa/totp/setup", &access, json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let setup: Value = r.json().await.unwrap();
    let secret_b32 = setup["secret"].as_str().unwrap();
    assert_eq!(
        setup["otpauth_uri"],
        format!("otpauth://totp/Rampart:{email}?secret={secret_b32}&issuer=Rampart")
    );
    let secret = unbase32(secret_b32);
    assert_eq!(secret.len(), 20, "160 bits");
    let r = bearer_post(
        app,
        "/auth/2fa/totp/confirm",
        &access,
        json!({"code": "000000x"}),
    )
    .await;
    assert_eq!(r.status(), 422, "a wrong code turns nothing on");
    let code = now_code(fx, &secret, 0);
    let r = bearer_post(
        app,
        "/auth/2fa/totp/confirm",
        &access,
        json!({"code": code}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let codes: Vec<String> = serde_json::from_value(body["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    clock.advance(Duration::from_secs(30));
    (access, secret, codes)
}

pub(super) async fn bearer_post(
    app: &rampart_tests::TestApp,
    path: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", IP)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The code of the step `offset` steps from now.
pub(super) fn now_code((app, _): &Fx, secret: &[u8], offset: i64) -> String {
    code_at(secret, step_of(app.state.clock.now_secs()) + offset)
}

/// A code matching no step within one of now.
pub(super) fn wrong_code(fx: &Fx, secret: &[u8]) -> String {
    let near: Vec<String> = (-1..=1).map(|d| now_code(fx, secret, d)).collect();
    (0..)
        .map(|n| format!("{:06}", n * 111_111 % 1_000_000))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// A password sign-in that must stop at the second factor: its `mfa_token`.
pub(super) async fn first_factor(fx: &Fx, email: &str) -> String {
    let r = post(
        &fx.0,
        "/auth/login",
        json!({"email": email, "password": PW, "delivery": "body"}),
        IP,
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get_all("set-cookie").iter().all(|c| {
        let c = c.to_str().unwrap();
        !c.contains("access_token") && !c.contains("refresh_token")
    }));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], "urn:rampart:problem:second-factor-required");
    assert_eq!(b["expires_in"], 300);
    assert!(b.get("access_token").is_none());
    b["mfa_token"].as_str().unwrap().to_string()
}

pub(super) async fn second(fx: &Fx, token: &str, factor: Value) -> reqwest::Response {
    let mut body = json!({"mfa_token": token, "delivery": "body"});
    body.as_object_mut()
        .unwrap()
        .extend(factor.as_object().unwrap().clone());
    post(&fx.0, "/auth/2fa/verify", body, IP).await
}

pub(super) async fn signed_in_with(fx: &Fx, token: &str, factor: Value) -> String {
    let r = second(fx, token, factor).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    let access = b["access_token"].as_str().unwrap().to_string();
    assert_eq!(me_bearer(&fx.0, &access).await.status(), 200);
    access
}

async fn with_totp_on_the_password_alone_gives_no_session(fx: Fx) {
    let email = "mfa-first@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    let token = first_factor(&fx, email).await;
    let r = second(&fx, &token, json!({})).await;
    assert_eq!(r.status(), 422, "a factor is required");
    // An email code is a first factor too.
    let r = post(&fx.0, "/auth/otp/request", json!({"email": email}), IP).await;
    assert_eq!(r.status(), 202);
    let code = sign_in_code(&fx.0, email).await;
    let r = post(
        &fx.0,
        "/auth/otp/verify",
        json!({"email": email, "code": code}),
        IP,
    )
    .await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], "urn:rampart:problem:second-factor-required");
    // The cookie delivery of the completed sign-in is the usual one.
    let body = json!({"mfa_token": b["mfa_token"], "code": now_code(&fx, &secret, 0)});
    let r = post(&fx.0, "/auth/2fa/verify", body, IP).await;
    assert_eq!(r.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    assert!(!jar.get("access_token").is_empty() && !jar.get("device").is_empty());
    // The challenge was used: the password's token is still good, but only once.
    fx.1.advance(Duration::from_secs(30));
    signed_in_with(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    fx.1.advance(Duration::from_secs(30));
    let r = second(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    assert_eq!(r.status(), 401, "a challenge completes once");
    // Five minutes later a challenge is gone.
    let token = first_factor(&fx, email).await;
    fx.1.advance(Duration::from_secs(301));
    let r = second(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    assert_eq!(r.status(), 401);
}

async fn a_totp_code_is_accepted_once(fx: Fx) {
    let email = "mfa-once@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    let code = now_code(&fx, &secret, 0);
    let token = first_factor(&fx, email).await;
    signed_in_with(&fx, &token, json!({"code": code})).await;
    let token = first_factor(&fx, email).await;
    let r = second(&fx, &token, json!({"code": code})).await;
    assert_eq!(r.status(), 401, "the same code again");
    // Two sign-ins racing with one fresh code: exactly one gets in.
    fx.1.advance(Duration::from_secs(30));
    let code = now_code(&fx, &secret, 0);
    let other = first_factor(&fx, email).await;
    let (a, b) = tokio::join!(
        second(&fx, &token, json!({"code": code})),
        second(&fx, &other, json!({"code": code})),
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
}

async fn a_code_from_two_steps_ago_is_refused(fx: Fx) {
    let email = "mfa-drift@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    fx.1.advance(Duration::from_secs(90));
    let token = first_factor(&fx, email).await;
    let r = second(&fx, &token, json!({"code": now_code(&fx, &secret, -2)})).await;
    assert_eq!(r.status(), 401);
    let r = second(&fx, &token, json!({"code": now_code(&fx, &secret, 2)})).await;
    assert_eq!(r.status(), 401);
    // One step behind is clock drift, and accepted.
    signed_in_with(&fx, &token, json!({"code": now_code(&fx, &secret, -1)})).await;
}

async fn brute_forcing_the_second_factor_hits_the_sign_in_throttle(fx: Fx) {
    let email = "mfa-brute@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    let token = first_factor(&fx, email).await;
    let wrong = wrong_code(&fx, &secret);
    let mut tries = 0;
    let throttled = loop {
        let r = second(&fx, &token, json!({"code": wrong})).await;
        tries += 1;
        if r.status() != 401 || tries > 10 {
            break r;
        }
    };
    assert_eq!(throttled.status(), 429, "after {tries} wrong codes");
    assert!(
        tries <= 5,
        "the password's throttle: backoff after 5 consecutive failures"
    );
    assert!(throttled.headers().contains_key("retry-after"));
    // The right code waits too, and so does the password: one count for both factors.
    let r = second(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    assert_eq!(r.status(), 429);
    let r = post(
        &fx.0,
        "/auth/login",
        json!({"email": email, "password": PW}),
        IP,
    )
    .await;
    assert_eq!(r.status(), 429);
    // Once the wait is over the owner gets in, and the count starts again.
    fx.1.advance(Duration::from_secs(30));
    signed_in_with(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
}

async fn a_recovery_code_signs_in_once(fx: Fx) {
    let email = "mfa-recovery@example.com";
    let (_, _, codes) = enrolled(&fx, email).await;
    let token = first_factor(&fx, email).await;
    let access = signed_in_with(
        &fx,
        &token,
        json!({"recovery_code": codes[3].to_uppercase()}),
    )
    .await;
    let token = first_factor(&fx, email).await;
    let r = second(&fx, &token, json!({"recovery_code": codes[3]})).await;
    assert_eq!(r.status(), 401, "used up");
    let r = second(
        &fx,
        &token,
        json!({"code": "123456", "recovery_code": codes[4]}),
    )
    .await;
    assert_eq!(r.status(), 422, "one factor at a time");
    // The export says the factor is on and how many codes are left, never a secret.
    let r =
        fx.0.client
            .get(fx.0.url("/account/export"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let export: Value = r.json().await.unwrap();
    assert_eq!(
        export["two_factor"],
        json!({"totp": "present", "recovery_codes_left": 9})
    );
    let text = export.to_string();
    assert!(codes.iter().all(|c| !text.contains(c.as_str())));
}

async fn disabling_needs_a_fresh_second_factor(fx: Fx) {
    let email = "mfa-off@example.com";
    let (_, secret, codes) = enrolled(&fx, email).await;
    let token = first_factor(&fx, email).await;
    let access = signed_in_with(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    let r = bearer_post(&fx.0, "/auth/2fa/totp/disable", &access, json!({})).await;
    assert_eq!(r.status(), 422);
    let wrong = wrong_code(&fx, &secret);
    let r = bearer_post(
        &fx.0,
        "/auth/2fa/totp/disable",
        &access,
        json!({"code": wrong}),
    )
    .await;
    assert_eq!(r.status(), 403);
    // The session alone does not do it, nor the code just used to sign in.
    let used = now_code(&fx, &secret, 0);
    let r = bearer_post(
        &fx.0,
        "/auth/2fa/totp/disable",
        &access,
        json!({"code": used}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r =
        fx.0.client
            .post(fx.0.url("/auth/2fa/totp/disable"))
            .json(&json!({"code": used}))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
    let r = bearer_post(
        &fx.0,
        "/auth/2fa/totp/disable",
        &access,
        json!({"recovery_code": codes[0]}),
    )
    .await;
    assert_eq!(r.status(), 204);
    // Off: the password alone signs in again, and nothing of the factor is left.
    login_body(&fx.0, email, IP).await;
    let r =
        fx.0.client
            .get(fx.0.url("/account/export"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
    let export: Value = r.json().await.unwrap();
    assert_eq!(
        export["two_factor"],
        json!({"totp": "absent", "recovery_codes_left": 0})
    );
    let r = bearer_post(
        &fx.0,
        "/auth/2fa/totp/disable",
        &access,
        json!({"code": used}),
    )
    .await;
    assert_eq!(r.status(), 409);
}
