//! Registration, password sign-in, and the property that sign-in answers do not tell
//! whether an account exists.

use std::time::Duration;

use rampart_auth::login::login;
use rampart_auth::password::count_verifications;
use serde_json::{Value, json};

use super::{PW, SIGN_IN_MAIL, app_with, mails_about, post, register};

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

/// Status and body of an answer.
async fn answer(f: impl std::future::Future<Output = reqwest::Response>) -> (u16, String) {
    let r = f.await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The answers are the same; the cost is asserted structurally, not with a stopwatch (wall-clock
/// ratios flaked on a shared 2-core machine): both login paths verify exactly one argon2 hash
/// (a dummy one when there is no account), a code request does the same work for any address,
/// and the reset request's floor is checked on a paused clock in `rampart_auth::reset`.
#[tokio::test]
async fn unknown_and_known_emails_are_indistinguishable() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "jo@example.com").await;
    let wrong = "wrong password here";
    for i in 0..4 {
        let ip = format!("192.0.2.{}", 10 + i);
        let k = answer(post(
            &app,
            "/auth/login",
            json!({"email": "jo@example.com", "password": wrong}),
            &ip,
        ))
        .await;
        let u = answer(post(
            &app,
            "/auth/login",
            json!({"email": "nobody@example.com", "password": wrong}),
            &ip,
        ))
        .await;
        assert_eq!(k, u, "same status and body");
        assert_eq!(k.0, 401);
    }
    // The flow the route runs, with its hash verifications counted.
    let ip = Some("192.0.2.20".parse().unwrap());
    let (known, known_checks) =
        count_verifications(login(&app.state, "jo@example.com", wrong, ip, None)).await;
    let (unknown, unknown_checks) =
        count_verifications(login(&app.state, "nobody@example.com", wrong, ip, None)).await;
    assert_eq!(known.unwrap_err().status(), 401);
    assert_eq!(unknown.unwrap_err().status(), 401);
    assert_eq!(
        (known_checks, unknown_checks),
        (1, 1),
        "each path verifies exactly one password hash"
    );

    for path in ["/auth/otp/request", "/auth/password/forgot"] {
        clock.advance(Duration::from_secs(61));
        let k = answer(post(
            &app,
            path,
            json!({"email": "jo@example.com"}),
            "192.0.2.50",
        ))
        .await;
        let u = answer(post(
            &app,
            path,
            json!({"email": "nobody@example.com"}),
            "192.0.2.51",
        ))
        .await;
        assert_eq!(k.0, 202, "{path}");
        assert_eq!(k, u, "{path}: same status and body");
        if path == "/auth/otp/request" {
            for to in ["jo@example.com", "nobody@example.com"] {
                let codes = mails_about(&app, to, SIGN_IN_MAIL).await;
                assert_eq!(codes.len(), 1, "{to} got its code");
            }
        }
    }
    app.shutdown().await;
}
