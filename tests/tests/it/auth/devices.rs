//! Device cookies after the owner of an address takes the account back or resets its password:
//! every cookie minted before is trusted no more (guesses with it count against the account, as
//! from any unknown client, and its code budget is the mailbox's), while a device the owner signs
//! in on afterwards is trusted as before. Both backends.

use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::{Fx, Jar, PW, post, register, reset_token, sign_in_code};

super::on_both_backends!(
    a_reset_ends_the_trust_of_every_earlier_device_cookie,
    a_take_back_ends_the_trust_of_every_device_cookie_the_previous_holder_made,
);

const WRONG: &str = "not the password at all";

/// A sign-in from `ip` with the password, as a client holding `jar` (cookie delivery): the
/// status and the cookies the client holds afterwards.
async fn sign_in(app: &TestApp, email: &str, pw: &str, ip: &str, jar: Option<&Jar>) -> (u16, Jar) {
    let mut r = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": pw}));
    if let Some(j) = jar {
        r = r.header("cookie", j.header());
    }
    let r = r.send().await.unwrap();
    let mut held = jar.cloned().unwrap_or_default();
    held.absorb(r.headers());
    (r.status().as_u16(), held)
}

/// A code request from `ip` as a client holding `jar`.
async fn request_code(app: &TestApp, email: &str, ip: &str, jar: Option<&Jar>) -> u16 {
    let mut r = app
        .client
        .post(app.url("/auth/otp/request"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email}));
    if let Some(j) = jar {
        r = r.header("cookie", j.header());
    }
    r.send().await.unwrap().status().as_u16()
}

/// Device cookies of three sign-ins, each from its own client (so each a device of its own).
async fn three_devices(app: &TestApp, email: &str) -> Vec<Jar> {
    let mut jars = Vec::new();
    for i in 0..3 {
        let (status, jar) = sign_in(app, email, PW, &format!("203.0.113.{}", 100 + i), None).await;
        assert_eq!(status, 200);
        assert!(!jar.get("device").is_empty());
        jars.push(jar);
    }
    jars
}

/// Five wrong guesses with the first earlier cookie, then one with each of the others: the
/// sixth guess of the account waits (429), as five failures from unknown clients make it.
async fn earlier_cookies_share_the_accounts_throttle(app: &TestApp, email: &str, earlier: &[Jar]) {
    for i in 0..5 {
        let ip = format!("198.51.100.{}", 150 + i);
        let (status, _) = sign_in(app, email, WRONG, &ip, Some(&earlier[0])).await;
        assert_eq!(status, 401, "guess {}", i + 1);
    }
    for (i, jar) in earlier.iter().enumerate().skip(1) {
        let ip = format!("198.51.100.{}", 160 + i);
        let (status, _) = sign_in(app, email, WRONG, &ip, Some(jar)).await;
        assert_eq!(
            status, 429,
            "cookie {i} minted before is no device of the account any more: its guess waits"
        );
    }
}

async fn a_reset_ends_the_trust_of_every_earlier_device_cookie((app, _): Fx) {
    let email = "rhea@example.com";
    register(&app, email).await;
    let earlier = three_devices(&app, email).await;

    let r = post(
        &app,
        "/auth/password/forgot",
        json!({"email": email}),
        "198.51.100.140",
    )
    .await;
    assert_eq!(r.status(), 202);
    let token = reset_token(&app, email).await;
    let new_pw = "the owner's new passphrase";
    let r = post(
        &app,
        "/auth/password/reset",
        json!({"token": token, "new_password": new_pw}),
        "198.51.100.140",
    )
    .await;
    assert_eq!(r.status(), 204);
    // The owner signs in after the reset: a device of the new generation.
    let (status, owners) = sign_in(&app, email, new_pw, "198.51.100.141", None).await;
    assert_eq!(status, 200);

    earlier_cookies_share_the_accounts_throttle(&app, email, &earlier).await;
    let (status, _) = sign_in(&app, email, new_pw, "198.51.100.142", Some(&owners)).await;
    assert_eq!(
        status, 200,
        "the owner's device is trusted: the account's wait does not apply to it"
    );
    app.shutdown().await;
}

async fn a_take_back_ends_the_trust_of_every_device_cookie_the_previous_holder_made((app, _): Fx) {
    let email = "theo@example.com";
    // Whoever registered the address signs in from three clients before its owner comes along.
    register(&app, email).await;
    let earlier = three_devices(&app, email).await;

    assert_eq!(request_code(&app, email, "198.51.100.130", None).await, 202);
    let code = sign_in_code(&app, email).await;
    let r = app
        .client
        .post(app.url("/auth/otp/verify"))
        .header("x-forwarded-for", "198.51.100.130")
        .json(&json!({"email": email, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut owners = Jar::default();
    owners.absorb(r.headers());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["password_removed"], true, "taken back");

    // Code requests: the mailbox's budget (1 a minute) was spent by the owner's request. An
    // earlier cookie draws on it like any client; the owner's new device has its own.
    assert_eq!(
        request_code(&app, email, "203.0.113.131", Some(&earlier[1])).await,
        429,
        "an earlier cookie has no code budget of its own"
    );
    assert_eq!(
        request_code(&app, email, "198.51.100.132", Some(&owners)).await,
        202,
        "the owner's device has"
    );
    earlier_cookies_share_the_accounts_throttle(&app, email, &earlier).await;
    app.shutdown().await;
}
