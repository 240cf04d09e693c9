//! A provider sign-in meets the accounts that already exist: a verified account is linked, an
//! unverified provider address takes nothing over, a provider-verified address takes an
//! unverified (squatted) account back, a second factor is asked for, a suspension refuses, and
//! the export and the erasure cover the linked identities.

use rampart_tests::{ADMIN_TOKEN, TestApp};
use serde_json::{Value, json};

use super::{Fx, identities, me, problem, sign_in, signed_in, urn};

super::on_both_backends!(
    a_provider_verified_address_is_linked_to_the_verified_account_holding_it,
    an_unverified_provider_address_takes_no_account_over,
    a_provider_verified_address_takes_an_unverified_squatters_account_back,
    an_account_with_totp_gets_the_second_factor_challenge_not_a_session,
    a_suspended_account_is_refused,
    the_export_shows_linked_identities_and_the_erasure_removes_them,
);

const PW: &str = "correct horse battery staple";

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("x-forwarded-for", "198.51.100.80")
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers with a password; verified with the mailed code when `verify`. The account id.
async fn register(app: &TestApp, email: &str, verify: bool) -> String {
    let r = post(
        app,
        "/auth/register",
        None,
        json!({"email": email, "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    if verify {
        let code = mailed_code(app, email, "Confirm your email address").await;
        let r = post(
            app,
            "/auth/verify-email",
            None,
            json!({"email": email, "code": code}),
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    id
}

async fn mailed_code(app: &TestApp, to: &str, subject: &str) -> String {
    let r = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap();
    let mails: Vec<Value> = r.json().await.unwrap();
    let mail = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with(subject))
        .expect("mail");
    mail["body"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string()
}

async fn password_login(app: &TestApp, email: &str) -> u16 {
    let body = json!({"email": email, "password": PW, "delivery": "body"});
    post(app, "/auth/login", None, body).await.status().as_u16()
}

async fn a_provider_verified_address_is_linked_to_the_verified_account_holding_it(fx: Fx) {
    let app = &fx.app;
    let id = register(app, "vera@example.com", true).await;
    let token = signed_in(app, "google", "login_hint=vera@example.com").await;
    assert_eq!(me(app, &token).await["id"], id.as_str());
    assert_eq!(identities(app, &id).await.len(), 1);
    assert_eq!(
        password_login(app, "vera@example.com").await,
        200,
        "the password stays"
    );
    // GitHub with the same verified address links a second identity to the same account.
    let token = signed_in(app, "github", "login=vera@example.com").await;
    assert_eq!(me(app, &token).await["id"], id.as_str());
    assert_eq!(identities(app, &id).await.len(), 2);
}

async fn an_unverified_provider_address_takes_no_account_over(fx: Fx) {
    let app = &fx.app;
    let id = register(app, "owner@example.com", true).await;
    let r = sign_in(
        app,
        "google",
        "login_hint=owner@example.com&standin_verified=false",
    )
    .await;
    assert_eq!(problem(r).await, (403, urn("oauth-email-unverified")));
    assert!(identities(app, &id).await.is_empty(), "nothing linked");
    // Nor does it create an account for an address nobody proved.
    let r = sign_in(
        app,
        "google",
        "login_hint=nobody@example.com&standin_verified=false",
    )
    .await;
    assert_eq!(problem(r).await, (403, urn("oauth-email-unverified")));
    let eh = rampart_auth::email_hash(&app.state, "nobody@example.com")
        .await
        .unwrap();
    let none = rampart_auth::account::find_by_email(&app.state, &eh)
        .await
        .unwrap();
    assert!(none.is_none());
}

async fn a_provider_verified_address_takes_an_unverified_squatters_account_back(fx: Fx) {
    let app = &fx.app;
    // A squatter registered the address first, never verified it, and holds its password.
    let id = register(app, "mine@example.com", false).await;
    assert_eq!(password_login(app, "mine@example.com").await, 200);
    let r = sign_in(app, "google", "login_hint=mine@example.com").await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["password_removed"], true);
    let profile = me(app, b["access_token"].as_str().unwrap()).await;
    assert_eq!(profile["id"], id.as_str(), "the same account, taken back");
    assert_eq!(profile["email_verified"], true);
    assert_eq!(
        password_login(app, "mine@example.com").await,
        401,
        "the squatter's password is gone"
    );
}

async fn an_account_with_totp_gets_the_second_factor_challenge_not_a_session(fx: Fx) {
    let app = &fx.app;
    let token = signed_in(app, "google", "login_hint=tess@example.com").await;
    let setup: Value = post(app, "/auth/2fa/totp/setup", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = unbase32(setup["secret"].as_str().unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let code = rampart_auth::totp::code_at(&secret, rampart_auth::totp::step_of(now));
    let r = post(
        app,
        "/auth/2fa/totp/confirm",
        Some(&token),
        json!({"code": code}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = sign_in(app, "google", "login_hint=tess@example.com").await;
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], urn("second-factor-required"));
    assert!(b["mfa_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(b.get("access_token").is_none());
}

fn unbase32(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in s.bytes() {
        acc = (acc << 5) | alphabet.iter().position(|a| *a == c).unwrap() as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

async fn a_suspended_account_is_refused(fx: Fx) {
    let app = &fx.app;
    let token = signed_in(app, "github", "login=sam@example.com").await;
    let id = me(app, &token).await["id"].as_str().unwrap().to_string();
    let r = app
        .client
        .post(app.url(&format!("/admin/users/{id}/suspend")))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"reason": "chargeback fraud"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = sign_in(app, "github", "login=sam@example.com").await;
    assert_eq!(problem(r).await, (403, urn("account-suspended")));
}

async fn the_export_shows_linked_identities_and_the_erasure_removes_them(fx: Fx) {
    let app = &fx.app;
    let knobs = "login_hint=erin@example.com&standin_sub=g-erin";
    let token = signed_in(app, "google", knobs).await;
    let id = me(app, &token).await["id"].as_str().unwrap().to_string();
    let export: Value = app
        .client
        .get(app.url("/account/export"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let linked = &export["linked_identities"];
    assert_eq!(linked.as_array().map(Vec::len), Some(1), "{export}");
    assert_eq!(linked[0]["provider"], "google");
    assert_eq!(linked[0]["subject"], "g-erin");
    assert_eq!(linked[0]["email"], "erin@example.com");
    assert!(linked[0]["linked_at"].as_i64().is_some());
    // No password: the deletion is confirmed with a fresh email code.
    let r = post(
        app,
        "/auth/otp/request",
        None,
        json!({"email": "erin@example.com"}),
    )
    .await;
    assert_eq!(r.status(), 202);
    let code = mailed_code(app, "erin@example.com", "Your sign-in code").await;
    let body = json!({"confirm": "DELETE", "code": code});
    let r = post(app, "/account/delete", Some(&token), body).await;
    assert!(r.status().is_success(), "{:?}", r.text().await);
    assert!(identities(app, &id).await.is_empty());
    // The provider's person no longer leads to the erased account: a new one starts.
    let again = signed_in(app, "google", knobs).await;
    assert_ne!(me(app, &again).await["id"], id.as_str());
}
