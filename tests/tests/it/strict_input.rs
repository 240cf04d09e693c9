//! Request bodies and query strings are read strictly, and refusals are said in the client's
//! terms: an unknown body member is 422 naming it (never a Rust type name), an unknown query
//! parameter or filter value is 400 naming the parameter, on every route family.

use rampart_tests::{ADMIN_TOKEN, TestApp, spawn_app};
use serde_json::{Value, json};

const RUST_WORDS: &[&str] = &["struct ", "::", "String", "u32", "usize", "i64", "Option"];

/// The single field error of a 422 problem: (pointer, detail).
async fn field_error(r: reqwest::Response) -> (String, String) {
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let text = r.text().await.unwrap();
    for rust in RUST_WORDS {
        assert!(!text.contains(rust), "{text}");
    }
    let problem: Value = serde_json::from_str(&text).unwrap();
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    (
        errors[0]["pointer"].as_str().unwrap().to_string(),
        errors[0]["detail"].as_str().unwrap().to_string(),
    )
}

/// The detail of a 400 problem.
async fn bad_request(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let text = r.text().await.unwrap();
    for rust in RUST_WORDS {
        assert!(!text.contains(rust), "{text}");
    }
    let problem: Value = serde_json::from_str(&text).unwrap();
    problem["detail"].as_str().unwrap().to_string()
}

async fn post_json(app: &TestApp, path: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_auth_body_refuses_a_member_it_does_not_know_and_names_it() {
    let app = spawn_app().await;
    let pw = "correct horse battery staple";
    let cases = [
        (
            "/auth/register",
            json!({"email": "u@example.com", "password": pw}),
        ),
        (
            "/auth/login",
            json!({"email": "u@example.com", "password": pw}),
        ),
        ("/auth/otp/request", json!({"email": "u@example.com"})),
        (
            "/auth/otp/verify",
            json!({"email": "u@example.com", "code": "123456"}),
        ),
        (
            "/auth/verify-email",
            json!({"email": "u@example.com", "code": "123456"}),
        ),
        ("/auth/password/forgot", json!({"email": "u@example.com"})),
        (
            "/auth/password/reset",
            json!({"token": "t", "new_password": pw}),
        ),
        ("/auth/refresh", json!({"refresh_token": "t"})),
    ];
    for (path, mut body) in cases {
        body["is_admin"] = json!(true);
        let r = post_json(&app, path, &body.to_string()).await;
        let (pointer, detail) = field_error(r).await;
        assert_eq!(pointer, "/is_admin", "{path}");
        assert_eq!(
            detail, "`is_admin` is not a field of this request",
            "{path}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn an_array_or_a_wrong_type_is_named_without_type_names() {
    let app = spawn_app().await;
    let (pointer, detail) = field_error(post_json(&app, "/auth/login", "[]").await).await;
    assert_eq!(
        (pointer.as_str(), detail.as_str()),
        ("", "the body must be an object, got an array")
    );
    let body = r#"{"email": "u@example.com", "password": ["a"]}"#;
    let (pointer, detail) = field_error(post_json(&app, "/auth/login", body).await).await;
    assert_eq!(
        (pointer.as_str(), detail.as_str()),
        ("/password", "`password` must be a string, got an array")
    );
    let body = r#"{"email": "u@example.com", "password": "p", "delivery": "pigeon"}"#;
    let (pointer, detail) = field_error(post_json(&app, "/auth/login", body).await).await;
    assert_eq!(
        (pointer.as_str(), detail.as_str()),
        ("/delivery", "`delivery` must be one of cookie, body")
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_operator_body_with_an_unknown_member_is_refused_before_anything_is_written() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({
            "email": "ops@example.com", "company_name": "Ops", "tier": "free", "discount": 100
        }))
        .send()
        .await
        .unwrap();
    let (pointer, detail) = field_error(r).await;
    assert_eq!(pointer, "/discount");
    assert_eq!(detail, "`discount` is not a field of this request");
    let listed: Value = admin_get(&app, "/admin/customers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["customers"], json!([]), "nothing was created");
    app.shutdown().await;
}

/// Unknown query parameters are refused (400 naming them), never silently ignored: a typo in
/// a filter (`?stauts=failed`) would otherwise list everything.
#[tokio::test]
async fn unknown_query_parameters_and_filter_values_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (path, param) in [
        ("/admin/webhook-events?stauts=failed", "`stauts`"),
        ("/admin/webhook-events?status=bogus", "`status`"),
        ("/admin/webhook-events?provider=strpe", "`provider`"),
        ("/admin/webhook-events?limit=many", "`limit`"),
        (
            "/admin/webhook-events/stripe/evt_1?include_payload=yes",
            "`include_payload`",
        ),
        ("/admin/customers?colour=red", "`colour`"),
        ("/admin/customers?limit=-1", "`limit`"),
    ] {
        let detail = bad_request(admin_get(&app, path).await).await;
        assert!(detail.contains(param), "{path}: {detail}");
    }
    let detail = bad_request(
        admin_get(
            &app,
            "/admin/webhook-events/stripe/evt_1?include_payload=yes",
        )
        .await,
    )
    .await;
    assert_eq!(
        detail,
        "Query parameter `include_payload` must be true or false."
    );
    for ok in [
        "/admin/webhook-events?status=failed&limit=5",
        "/admin/webhook-events?provider=stripe",
        "/admin/webhook-events?provider=standard:acme",
    ] {
        assert_eq!(admin_get(&app, ok).await.status(), 200, "{ok}");
    }
    app.shutdown().await;
}
