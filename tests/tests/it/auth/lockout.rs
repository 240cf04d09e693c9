//! Failed sign-in throttles: a known device is throttled on its own and never locks its owner
//! out; unknown clients share the account's budget, wait after five consecutive failures and
//! stop at the NIST SP 800-63B cap of 100 until the owner proves it another way; a throttled
//! answer is the same whether or not the account exists.

use std::time::Duration;

use rampart_auth::FailureCount;
use rampart_auth::throttle::{BACKOFF_MAX_SECS, MAX_CONSECUTIVE_FAILURES};
use rampart_store::keys;
use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::{Fx, Jar, PW, app_with, login_cookie, post, register, reset_token, sign_in_code};

super::on_both_backends!(
    the_owner_on_a_known_device_signs_in_after_200_wrong_attempts_from_50_addresses,
    parallel_guesses_cannot_outrun_the_backoff,
    the_101st_consecutive_untrusted_failure_is_refused_even_with_the_right_password,
);

const WRONG: &str = "not the password at all";

/// A password sign-in from `ip`, as a client holding `jar`'s cookies (if any).
async fn login_as(app: &TestApp, email: &str, pw: &str, ip: &str, jar: Option<&Jar>) -> u16 {
    let mut r = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": pw, "delivery": "body"}));
    if let Some(j) = jar {
        r = r.header("cookie", j.header());
    }
    r.send().await.unwrap().status().as_u16()
}

/// Status, Retry-After and body of a sign-in answer.
async fn answer(app: &TestApp, email: &str, pw: &str, ip: &str) -> (u16, String, Value) {
    let r = post(
        app,
        "/auth/login",
        json!({"email": email, "password": pw}),
        ip,
    )
    .await;
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        retry,
        r.json().await.unwrap_or(Value::Null),
    )
}

/// Puts the account's count from unknown clients at the cap, as 100 failures would.
async fn at_the_cap(app: &TestApp, email: &str) {
    let eh = rampart_auth::email_hash(&app.state, email).await.unwrap();
    let now = app.state.clock.now_secs();
    let capped = FailureCount {
        key: keys::account_failures(&eh),
        failures: MAX_CONSECUTIVE_FAILURES,
        next_at: now,
        expires_at: now + 86_400,
    };
    app.state.store.put((&capped).into(), None).await.unwrap();
}

async fn the_owner_on_a_known_device_signs_in_after_200_wrong_attempts_from_50_addresses(
    (app, _): Fx,
) {
    let email = "olga@example.com";
    register(&app, email).await;
    let device = login_cookie(&app, email).await;
    let mut refused = 0;
    for i in 0..200 {
        let ip = format!("203.0.113.{}", i % 50);
        match login_as(&app, email, WRONG, &ip, None).await {
            401 => {}
            429 => refused += 1,
            other => panic!("attempt {i}: {other}"),
        }
    }
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.60", None).await,
        429,
        "unknown clients wait, even with the right password"
    );
    let mut forged = device.clone();
    let genuine = device.get("device");
    let flipped = if genuine.ends_with('A') { "B" } else { "A" };
    forged.0.insert(
        "device".into(),
        format!("{}{flipped}", &genuine[..genuine.len() - 1]),
    );
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.61", Some(&forged)).await,
        429,
        "a tampered device cookie is no device"
    );
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.62", Some(&device)).await,
        200,
        "the owner's known device signs in"
    );
    assert_eq!(refused, 195, "the attack was slowed after five failures");
    app.shutdown().await;
}

#[tokio::test]
async fn a_known_device_that_fails_five_times_waits_and_the_account_does_not() {
    let (app, clock) = app_with(&[]).await;
    let email = "pete@example.com";
    register(&app, email).await;
    let device = login_cookie(&app, email).await;
    for i in 0..5 {
        let status = login_as(&app, email, WRONG, "198.51.100.70", Some(&device)).await;
        assert_eq!(status, 401, "failure {}", i + 1);
    }
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.71", Some(&device)).await,
        429,
        "the device waits after five failures"
    );
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.72", None).await,
        200,
        "the account is not slowed by its device's failures"
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.73", Some(&device)).await,
        200,
        "after the wait the device signs in"
    );
    app.shutdown().await;
}

/// Replaces "10 failures lock the account for 15 minutes": unknown clients now wait after five
/// consecutive failures, exponentially longer, and a success resets the count.
#[tokio::test]
async fn unknown_clients_back_off_after_five_failures_from_anywhere() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "ned@example.com").await;
    for (email, base) in [("ned@example.com", 100), ("ghost@example.com", 120)] {
        for i in 0..5 {
            let ip = format!("192.0.2.{}", base + i);
            let (status, ..) = answer(&app, email, WRONG, &ip).await;
            assert_eq!(status, 401, "{email}: failure {}", i + 1);
        }
    }
    let known = answer(&app, "ned@example.com", PW, "192.0.2.200").await;
    let unknown = answer(&app, "ghost@example.com", PW, "192.0.2.201").await;
    assert_eq!(known.0, 429, "even the right password waits");
    assert_eq!(known.1, "30", "the first wait is 30 s");
    assert_eq!(
        known, unknown,
        "the same answer whether or not the account exists"
    );
    clock.advance(Duration::from_secs(30));
    let (status, ..) = answer(&app, "ned@example.com", WRONG, "192.0.2.202").await;
    assert_eq!(status, 401, "the sixth guess, after the wait");
    let (status, retry, _) = answer(&app, "ned@example.com", PW, "192.0.2.203").await;
    assert_eq!((status, retry.as_str()), (429, "60"), "the wait doubles");
    clock.advance(Duration::from_secs(60));
    let (status, ..) = answer(&app, "ned@example.com", PW, "192.0.2.204").await;
    assert_eq!(status, 200);
    for i in 0..5 {
        let (status, ..) = answer(&app, "ned@example.com", WRONG, "192.0.2.205").await;
        assert_eq!(status, 401, "a success reset the count: failure {}", i + 1);
    }
    app.shutdown().await;
}

async fn parallel_guesses_cannot_outrun_the_backoff((app, _): Fx) {
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
    assert_eq!(guesses, 5, "exactly five guesses were checked");
    app.shutdown().await;
}

async fn the_101st_consecutive_untrusted_failure_is_refused_even_with_the_right_password(
    (app, clock): Fx,
) {
    let email = "uri@example.com";
    register(&app, email).await;
    let wait = Duration::from_secs(BACKOFF_MAX_SECS as u64);
    for i in 0..100 {
        clock.advance(wait);
        let ip = format!("203.0.113.{}", i % 50);
        let status = login_as(&app, email, WRONG, &ip, None).await;
        assert_eq!(status, 401, "failure {} was checked", i + 1);
    }
    clock.advance(wait);
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.80", None).await,
        429,
        "the 101st attempt is refused, right password or not"
    );
    clock.advance(Duration::from_secs(7 * 86_400));
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.81", None).await,
        429,
        "and waiting does not lift the cap"
    );
    // An email-code sign-in proves the mailbox: unknown clients may try again.
    post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "198.51.100.82",
    )
    .await;
    let code = sign_in_code(&app, email).await;
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": email, "code": code}),
        "198.51.100.82",
    )
    .await;
    assert_eq!(r.status(), 200);
    let user_id = rampart_auth::account::find_by_email(
        &app.state,
        &rampart_auth::email_hash(&app.state, email).await.unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
    .id;
    let audit = app
        .state
        .store
        .query(rampart_store::Query::table(format!("audit#{user_id}")).descending())
        .await
        .unwrap();
    let kinds: Vec<String> = audit
        .items
        .iter()
        .map(|i| rampart_http::audit::AuditEvent::try_from(i).unwrap().kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "login_capped"), "{kinds:?}");
    app.shutdown().await;
}

/// The cap lifts with a success on a known device, or a password reset (the code sign-in is
/// shown above); waiting alone never lifts it.
#[tokio::test]
async fn a_known_device_or_a_reset_lifts_the_cap() {
    let (app, _) = app_with(&[]).await;
    let email = "val@example.com";
    register(&app, email).await;
    let device = login_cookie(&app, email).await;
    at_the_cap(&app, email).await;
    assert_eq!(login_as(&app, email, PW, "198.51.100.90", None).await, 429);
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.91", Some(&device)).await,
        200
    );
    assert_eq!(
        login_as(&app, email, PW, "198.51.100.92", None).await,
        200,
        "a success on a known device lifted it"
    );
    at_the_cap(&app, email).await;
    post(
        &app,
        "/auth/password/forgot",
        json!({"email": email}),
        "198.51.100.93",
    )
    .await;
    let token = reset_token(&app, email).await;
    let new_pw = "a fresh passphrase of four words";
    let r = post(
        &app,
        "/auth/password/reset",
        json!({"token": token, "new_password": new_pw}),
        "198.51.100.93",
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        login_as(&app, email, new_pw, "198.51.100.94", None).await,
        200,
        "a reset lifted it"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_capped_answer_is_the_same_for_an_account_and_for_none() {
    let (app, _) = app_with(&[]).await;
    register(&app, "wes@example.com").await;
    at_the_cap(&app, "wes@example.com").await;
    at_the_cap(&app, "nobody-here@example.com").await;
    let known = answer(&app, "wes@example.com", PW, "198.51.100.95").await;
    let unknown = answer(&app, "nobody-here@example.com", PW, "198.51.100.96").await;
    assert_eq!(known.0, 429);
    assert_eq!(known, unknown);
    assert_eq!(known.2["type"], "urn:rampart:problem:rate-limited");
    app.shutdown().await;
}

#[tokio::test]
async fn device_cookies_are_signed_http_only_lax_and_host_prefixed() {
    for (secure, name) in [("true", "__Host-device"), ("false", "device")] {
        let (app, _) = app_with(&[("COOKIE_SECURE", secure)]).await;
        register(&app, "xia@example.com").await;
        let r = post(
            &app,
            "/auth/login",
            json!({"email": "xia@example.com", "password": PW}),
            "198.51.100.97",
        )
        .await;
        assert_eq!(r.status(), 200);
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie"));
        for part in ["Path=/;", "Max-Age=15552000", "SameSite=Lax", "HttpOnly"] {
            assert!(cookie.contains(part), "{part} missing: {cookie}");
        }
        assert_eq!(cookie.contains("; Secure"), secure == "true", "{cookie}");
        assert!(!cookie.contains("Domain"), "{cookie}");
        app.shutdown().await;
    }
}
