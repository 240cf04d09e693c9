//! What operators count of attacks on sign-in: every failed password or code sign-in is one
//! `login_failure` (labelled by method), every refresh token presented after its grace period
//! one `refresh_reuse_detected`. Each test counts into a registry of its own (a current-thread
//! runtime under `metrics::counting`), so the numbers are exact while other tests run.

use std::future::Future;
use std::time::Duration;

use rampart_platform::metrics::{Metric, Registry, counting};
use serde_json::json;

use super::{PW, app_with, login_body, post, register, sign_in_code};

async fn refresh_body(app: &rampart_tests::TestApp, token: &str) -> (u16, String) {
    let body = json!({ "refresh_token": token });
    let r = post(app, "/auth/refresh", body, "198.51.100.63").await;
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Runs a scenario on a current-thread runtime whose counts go to a registry of its own.
fn counted<F: Future<Output = ()>>(scenario: impl FnOnce() -> F) -> Registry {
    let registry = Registry::new("auth-api");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    counting(&registry, || rt.block_on(scenario()));
    registry
}

#[test]
fn a_wrong_password_and_a_wrong_code_each_count_one_login_failure() {
    let counts = counted(|| async {
        let (app, _) = app_with(&[]).await;
        register(&app, "counted@example.com").await;
        let wrong = post(
            &app,
            "/auth/login",
            json!({"email": "counted@example.com", "password": format!("{PW}!")}),
            "198.51.100.61",
        )
        .await;
        assert_eq!(wrong.status(), 401);
        let asked = post(
            &app,
            "/auth/otp/request",
            json!({"email": "counted@example.com"}),
            "198.51.100.61",
        )
        .await;
        assert_eq!(asked.status(), 202);
        let code = sign_in_code(&app, "counted@example.com").await;
        let guess = if code == "000000" { "111111" } else { "000000" };
        let wrong = post(
            &app,
            "/auth/otp/verify",
            json!({"email": "counted@example.com", "code": guess}),
            "198.51.100.61",
        )
        .await;
        assert_eq!(wrong.status(), 401);
        // A success is not a failure.
        login_body(&app, "counted@example.com", "198.51.100.61").await;
        app.shutdown().await;
    });
    assert_eq!(
        counts.value(Metric::LoginFailure, &[("method", "password")]),
        1
    );
    assert_eq!(counts.value(Metric::LoginFailure, &[("method", "code")]), 1);
    assert_eq!(counts.value(Metric::RefreshReuseDetected, &[]), 0);
}

#[test]
fn a_refresh_token_presented_after_its_grace_period_counts_one_reuse() {
    let counts = counted(|| async {
        let (app, clock) = app_with(&[]).await;
        register(&app, "reused@example.com").await;
        let (_, t1) = login_body(&app, "reused@example.com", "198.51.100.62").await;
        let (status, _) = refresh_body(&app, &t1).await;
        assert_eq!(status, 200);
        // Two tabs within the grace period: not a reuse.
        let (status, _) = refresh_body(&app, &t1).await;
        assert_eq!(status, 200);
        clock.advance(Duration::from_secs(11));
        let (status, _) = refresh_body(&app, &t1).await;
        assert_eq!(status, 401, "a reuse revokes the session");
        app.shutdown().await;
    });
    assert_eq!(counts.value(Metric::RefreshReuseDetected, &[]), 1);
    assert_eq!(
        counts.value(Metric::LoginFailure, &[("method", "password")]),
        0
    );
}
