//! Refresh rotation over time: two tabs refreshing with one token both stay signed in, a late
//! reuse still revokes the family, and no session outlives its absolute lifetime.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Fx, Jar, app_with, login_body, login_cookie, me_bearer, post, register};

super::on_both_backends!(
    two_concurrent_refreshes_with_one_token_both_succeed_and_the_session_lives_on,
    a_reuse_after_the_grace_period_still_revokes_the_family,
    the_31st_day_ends_a_refreshed_session,
);

const DAY: u64 = 86_400;

async fn refresh_body(app: &rampart_tests::TestApp, token: &str) -> (u16, Value) {
    let r = post(
        app,
        "/auth/refresh",
        json!({"refresh_token": token}),
        "198.51.100.30",
    )
    .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn two_concurrent_refreshes_with_one_token_both_succeed_and_the_session_lives_on(
    (app, _): Fx,
) {
    register(&app, "tab@example.com").await;
    let (_, t1) = login_body(&app, "tab@example.com", "198.51.100.30").await;
    let mut tabs = Vec::new();
    for _ in 0..2 {
        let (client, url, t1) = (app.client.clone(), app.url("/auth/refresh"), t1.clone());
        tabs.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("x-forwarded-for", "198.51.100.30")
                .json(&json!({"refresh_token": t1}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for t in tabs {
        answers.push(t.await.unwrap());
    }
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(me_bearer(&app, access).await.status(), 200);
    }
    let newest = answers[0].1["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        answers[1].1["refresh_token"], newest,
        "both tabs hold the family's newest refresh token"
    );
    let (status, body) = refresh_body(&app, &newest).await;
    assert_eq!(status, 200, "the session lives on");
    assert_eq!(
        me_bearer(&app, body["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    app.shutdown().await;
}

async fn a_reuse_after_the_grace_period_still_revokes_the_family((app, clock): Fx) {
    register(&app, "late@example.com").await;
    let (_, t1) = login_body(&app, "late@example.com", "198.51.100.31").await;
    let (status, body) = refresh_body(&app, &t1).await;
    assert_eq!(status, 200);
    let t2 = body["refresh_token"].as_str().unwrap().to_string();
    clock.advance(Duration::from_secs(10));
    let (status, body) = refresh_body(&app, &t1).await;
    assert_eq!(
        status, 200,
        "10 s after its rotation: still the grace period"
    );
    assert_eq!(body["refresh_token"], t2.as_str(), "the newest token again");
    clock.advance(Duration::from_secs(1));
    let (status, _) = refresh_body(&app, &t1).await;
    assert_eq!(status, 401, "11 s after: reuse");
    let (status, _) = refresh_body(&app, &t2).await;
    assert_eq!(status, 401, "and the family is revoked");
    app.shutdown().await;
}

#[tokio::test]
async fn a_grace_period_of_zero_makes_every_reuse_a_revocation() {
    let (app, _) = app_with(&[("REFRESH_REUSE_GRACE_SECS", "0")]).await;
    register(&app, "strict@example.com").await;
    let (_, t1) = login_body(&app, "strict@example.com", "198.51.100.32").await;
    let (status, body) = refresh_body(&app, &t1).await;
    assert_eq!(status, 200);
    let t2 = body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh_body(&app, &t1).await.0, 401);
    assert_eq!(refresh_body(&app, &t2).await.0, 401);
    app.shutdown().await;
}

/// A cookie of a `Set-Cookie` list, by name: its `Max-Age`.
fn max_age(headers: &reqwest::header::HeaderMap, name: &str) -> i64 {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split("Max-Age=").nth(1))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .parse()
        .unwrap()
}

async fn refresh_cookie(app: &rampart_tests::TestApp, jar: &Jar) -> reqwest::Response {
    app.client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap()
}

/// OWASP ASVS 5.0 V7.3.2: a session refreshed every few days still ends 30 days after its
/// login.
async fn the_31st_day_ends_a_refreshed_session((app, clock): Fx) {
    register(&app, "mia@example.com").await;
    let (_, mut token) = login_body(&app, "mia@example.com", "198.51.100.33").await;
    for day in 1..=30 {
        clock.advance(Duration::from_secs(DAY));
        let (status, body) = refresh_body(&app, &token).await;
        if day < 30 {
            assert_eq!(status, 200, "day {day}");
            token = body["refresh_token"].as_str().unwrap().to_string();
        } else {
            assert_eq!(status, 401, "30 days after the login the session is over");
        }
    }
    clock.advance(Duration::from_secs(DAY));
    assert_eq!(refresh_body(&app, &token).await.0, 401, "day 31");
    app.shutdown().await;
}

/// No refresh answer or cookie claims more than the session has left.
#[tokio::test]
async fn refresh_answers_and_cookies_never_outlive_the_session() {
    let (app, clock) = app_with(&[]).await;
    register(&app, "noa@example.com").await;
    let mut jar = login_cookie(&app, "noa@example.com").await;
    let mut elapsed = 0;
    for day in [6, 12, 18, 24, 29] {
        clock.advance(Duration::from_secs((day - elapsed) * DAY));
        elapsed = day;
        let r = refresh_cookie(&app, &jar).await;
        assert_eq!(r.status(), 200, "day {day}");
        let left = ((30 - day) * DAY).min(7 * DAY) as i64;
        assert_eq!(max_age(r.headers(), "refresh_token"), left, "day {day}");
        assert_eq!(max_age(r.headers(), "csrf_token"), left, "day {day}");
        jar.absorb(r.headers());
    }
    // Ten minutes before the end: the access token is cut to them too.
    clock.advance(Duration::from_secs(DAY - 600));
    let r = refresh_cookie(&app, &jar).await;
    assert_eq!(r.status(), 200);
    assert_eq!(max_age(r.headers(), "refresh_token"), 600);
    assert_eq!(max_age(r.headers(), "access_token"), 600);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 600);
    app.shutdown().await;
}
