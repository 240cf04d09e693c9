//! Email sign-in codes: sign-up on first use, single use, expiry, guess limits per issued
//! code, the request budget of a known device, and the owner of an address taking it back.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    Fx, Jar, PW, SIGN_IN_MAIL, app_with, code_in, login_body, login_cookie, mails_about, me_bearer,
    outbox, post, register, sign_in_code,
};

super::on_both_backends!(
    an_attackers_ten_wrong_codes_do_not_stop_the_owners_next_code,
    a_known_device_gets_its_own_code_when_the_mailbox_budget_is_spent,
);

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
    let eh = rampart_platform::crypto::keyed_hash(&pepper, "email", "kim@example.com");
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
    let code = sign_in_code(&app, "lee@example.com").await;
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
    let code = sign_in_code(&app, "max@example.com").await;
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
    let code = sign_in_code(&app, "victim@example.com").await;
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

/// A code request as a client with `jar`'s cookies (the device cookie) would send it.
async fn request_with(app: &rampart_tests::TestApp, email: &str, ip: &str, jar: &Jar) -> u16 {
    app.client
        .post(app.url("/auth/otp/request"))
        .header("x-forwarded-for", ip)
        .header("cookie", jar.header())
        .json(&json!({"email": email}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn verify_with(
    app: &rampart_tests::TestApp,
    email: &str,
    code: &str,
    ip: &str,
    jar: &Jar,
) -> u16 {
    app.client
        .post(app.url("/auth/otp/verify"))
        .header("x-forwarded-for", ip)
        .header("cookie", jar.header())
        .json(&json!({"email": email, "code": code, "delivery": "body"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn wrong_for(code: &str) -> &'static str {
    if code == "000000" { "000001" } else { "000000" }
}

/// Today's behaviour this replaces: ten wrong codes per account per day locked the owner out
/// of code sign-in until midnight. Now each wrong guess burns only its own code.
async fn an_attackers_ten_wrong_codes_do_not_stop_the_owners_next_code((app, clock): Fx) {
    let email = "quinn@example.com";
    for round in 0..2 {
        clock.advance(Duration::from_secs(61));
        let ip = format!("203.0.113.{}", 30 + round);
        let r = post(&app, "/auth/otp/request", json!({"email": email}), &ip).await;
        assert_eq!(r.status(), 202);
        let code = sign_in_code(&app, email).await;
        for _ in 0..5 {
            let r = post(
                &app,
                "/auth/otp/verify",
                json!({"email": email, "code": wrong_for(&code)}),
                &ip,
            )
            .await;
            assert_eq!(r.status(), 401, "a wrong guess is a 401, never a lockout");
        }
        let r = post(
            &app,
            "/auth/otp/verify",
            json!({"email": email, "code": code}),
            &ip,
        )
        .await;
        assert_eq!(r.status(), 401, "five wrong guesses burned that code");
    }
    clock.advance(Duration::from_secs(61));
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "198.51.100.40",
    )
    .await;
    assert_eq!(r.status(), 202, "the owner can ask for a code");
    let code = sign_in_code(&app, email).await;
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": email, "code": code, "delivery": "body"}),
        "198.51.100.40",
    )
    .await;
    assert_eq!(r.status(), 200, "and the owner's next code works");
    app.shutdown().await;
}

/// Wrong guesses never spend the day's request budget: a mailbox gets five codes a day, however
/// many guesses were made against them (and so at most 5 x 5 guesses a day).
#[tokio::test]
async fn wrong_guesses_do_not_spend_the_request_budget() {
    let (app, clock) = app_with(&[]).await;
    let email = "rita@example.com";
    for i in 0..5 {
        clock.advance(Duration::from_secs(61));
        let ip = format!("203.0.113.{}", 40 + i);
        let r = post(&app, "/auth/otp/request", json!({"email": email}), &ip).await;
        assert_eq!(r.status(), 202, "code {} of the day", i + 1);
        for _ in 0..6 {
            post(
                &app,
                "/auth/otp/verify",
                json!({"email": email, "code": "12345x"}),
                &ip,
            )
            .await;
        }
    }
    clock.advance(Duration::from_secs(61));
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "203.0.113.60",
    )
    .await;
    assert_eq!(
        r.status(),
        429,
        "the sixth code of the day, from any address"
    );
    assert_eq!(mails_about(&app, email, SIGN_IN_MAIL).await.len(), 5);
    app.shutdown().await;
}

/// An attacker who spends the address's requests for the day cannot stop the owner's known
/// device from getting a code, nor replace or guess the code that device asked for.
async fn a_known_device_gets_its_own_code_when_the_mailbox_budget_is_spent((app, clock): Fx) {
    let email = "sol@example.com";
    register(&app, email).await;
    let device = login_cookie(&app, email).await;
    assert!(
        !device.get("device").is_empty(),
        "sign-in set a device cookie"
    );
    for i in 0..5 {
        clock.advance(Duration::from_secs(61));
        let ip = format!("203.0.113.{}", 70 + i);
        let r = post(&app, "/auth/otp/request", json!({"email": email}), &ip).await;
        assert_eq!(r.status(), 202);
    }
    clock.advance(Duration::from_secs(61));
    let attacker = post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "203.0.113.80",
    )
    .await;
    assert_eq!(attacker.status(), 429, "the mailbox's budget is spent");
    assert_eq!(
        request_with(&app, email, "198.51.100.41", &device).await,
        202,
        "the owner's device has its own budget"
    );
    let code = sign_in_code(&app, email).await;
    // The attacker asks again (refused) and guesses at the address's code: the device's code
    // is neither replaced nor reachable without the device cookie.
    clock.advance(Duration::from_secs(30));
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": email, "code": code}),
        "203.0.113.81",
    )
    .await;
    assert_eq!(
        r.status(),
        401,
        "only the device that asked can use its code"
    );
    assert_eq!(
        verify_with(&app, email, &code, "198.51.100.41", &device).await,
        200
    );
    // A device cookie of another account is no device of this one.
    register(&app, "tom@example.com").await;
    let stranger = login_cookie(&app, "tom@example.com").await;
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        request_with(&app, email, "203.0.113.82", &stranger).await,
        429,
        "a foreign device cookie counts against the mailbox"
    );
    app.shutdown().await;
}
