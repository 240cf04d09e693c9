//! Black-box HTTP tests against the spawned local stack (and, for layer behaviour no product
//! route exercises yet, small routers under the same shared layers).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use rampart_http::{ClientIp, Json};
use rampart_store::dynamo::DynamoStore;
use rampart_tests::{embedded_state, settings, spawn_app, spawn_app_with};
use serde_json::Value;

const GROUPS: &[(&str, &[&str])] = &[
    ("/auth/health", &["store"]),
    ("/webhooks/health", &["store", "queue"]),
    ("/billing/health", &["store"]),
    ("/orders/health", &["store", "queue"]),
    ("/account/health", &["store"]),
];

fn assert_problem(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn every_health_route_answers_with_its_dependencies() {
    let app = spawn_app().await;
    for (path, deps) in GROUPS {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
        assert!(
            h.get("strict-transport-security").is_none(),
            "HSTS only in production"
        );
        assert!(h.contains_key("x-request-id"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        let checks = body["checks"].as_object().unwrap();
        assert_eq!(checks.len(), deps.len(), "{path}");
        for d in *deps {
            assert_eq!(checks[*d], "ok", "{path} {d}");
        }
    }
    app.shutdown().await;
}

#[tokio::test]
async fn health_is_503_when_the_store_is_down() {
    // A DynamoDB endpoint nothing listens on: every call fails.
    let cfg = rampart_tests::aws_config("http://127.0.0.1:9").await;
    let clock = rampart_platform::clock::system();
    let mut state = embedded_state(settings(&[]), clock.clone());
    state.store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&cfg),
        "t",
        clock,
    ));
    let app = spawn_app_with(state).await;
    let r = app
        .client
        .get(app.url("/orders/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["store"], "down");
    assert_eq!(body["checks"]["queue"], "ok");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals in the body"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_is_405_problem_json() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_problem(r.headers());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:not-found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");

    let r = app
        .client
        .delete(app.url("/auth/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_problem(r.headers());
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    app.shutdown().await;
}

#[tokio::test]
async fn two_mib_body_is_413_problem_json() {
    let app = spawn_app().await;
    let big = vec![b'a'; 2 * 1024 * 1024];
    let r = app
        .client
        .post(app.url("/auth/health"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_problem(r.headers());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:payload-too-large");
    app.shutdown().await;
}

#[tokio::test]
async fn cors_grants_only_listed_origins() {
    let state = embedded_state(
        settings(&[("CORS_ALLOWED_ORIGINS", "https://app.example")]),
        rampart_platform::clock::system(),
    );
    let app = spawn_app_with(state).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/auth/health"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-csrf-token",
            )
            .send()
    };
    let ok = preflight("https://app.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST") && !methods.contains('*'));
    let allowed_headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(allowed_headers.contains("x-csrf-token") && !allowed_headers.contains('*'));

    let evil = preflight("https://evil.example").await.unwrap();
    assert!(
        evil.headers().get("access-control-allow-origin").is_none(),
        "no grant for other origins"
    );

    let simple = app
        .client
        .get(app.url("/auth/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let simple = app
        .client
        .get(app.url("/auth/health"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_replaced_when_not() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/auth/health"))
        .header("x-request-id", "abc-123.x:y")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123.x:y");
    let r = app
        .client
        .get(app.url("/auth/health"))
        .header("x-request-id", "bad id\"with{json}")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap();
    let fresh = uuid::Uuid::parse_str(id).expect("replaced by a fresh UUID");
    assert_eq!(fresh.get_version_num(), 4, "a random UUID: {id}");
    assert_eq!(id, fresh.hyphenated().to_string(), "in its hyphenated form");
    app.shutdown().await;
}

#[tokio::test]
async fn hsts_is_sent_in_production() {
    let mut s = settings(&[]);
    s.app_env = rampart_platform::config::AppEnv::Production;
    let app = spawn_app_with(embedded_state(s, rampart_platform::clock::system())).await;
    let r = app
        .client
        .get(app.url("/auth/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    app.shutdown().await;
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Signup {
    email: String,
    age: u8,
}

/// A router with a JSON route, a panicking route and the client IP, under the shared layers.
async fn layered(pairs: &[(&str, &str)]) -> String {
    let state = embedded_state(settings(pairs), rampart_platform::clock::system());
    let routes = Router::new()
        .route(
            "/json",
            post(|Json(b): Json<Signup>| async move { b.email }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("secret internal detail: db password hunter2");
                }
                "unreachable"
            }),
        )
        .route("/ip", get(|ip: ClientIp| async move { ip.0.to_string() }));
    let addr =
        rampart_tests::serve_router(rampart_http::finish(routes, &state, Default::default())).await;
    format!("http://{addr}")
}

#[tokio::test]
async fn json_errors_say_what_is_wrong() {
    let base = layered(&[]).await;
    let c = reqwest::Client::new();
    let post = |body: &'static str, ct: &'static str| {
        c.post(format!("{base}/json"))
            .header("content-type", ct)
            .body(body)
            .send()
    };

    let r = post("{\"email\": \"a@b.c\",", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_problem(r.headers());
    let body: Value = r.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Malformed JSON body") && detail.contains("line 1"),
        "{detail}"
    );

    let r = post("{\"email\": \"a@b.c\", \"age\": 300}", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["pointer"], "/age");

    let r = post("{\"email\": \"a@b.c\"}", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("age")
    );

    let r = post("email=a", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_problem(r.headers());

    let r = post("{\"email\": \"ok@b.c\", \"age\": 30}", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok@b.c");
}

#[tokio::test]
async fn a_panic_is_500_without_internals() {
    let base = layered(&[]).await;
    let r = reqwest::get(format!("{base}/panic")).await.unwrap();
    assert_eq!(r.status(), 500);
    assert_problem(r.headers());
    assert!(r.headers().contains_key("x-request-id"));
    let text = r.text().await.unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("secret"),
        "{text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["type"], "urn:rampart:problem:internal");
}

#[tokio::test]
async fn client_ip_trusts_forwarded_for_only_from_trusted_proxies() {
    let c = reqwest::Client::new();
    let untrusted = layered(&[]).await;
    let ip = c
        .get(format!("{untrusted}/ip"))
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        ip, "127.0.0.1",
        "a direct client cannot claim another address"
    );

    let trusted = layered(&[("TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    let ip = c
        .get(format!("{trusted}/ip"))
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ip, "203.0.113.5", "the right-most untrusted hop");
    // A proxy that appends its own header line instead of extending the client's.
    let ip = c
        .get(format!("{trusted}/ip"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ip, "203.0.113.9", "every header line counts, in order");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.addr;
    // A request the server is handling (its body still to come) while shutdown starts.
    let mut conn = crate::operations::login_in_flight(addr).await;
    let stopping = tokio::spawn(app.shutdown());
    conn.write_all(crate::operations::IN_FLIGHT_BODY)
        .await
        .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    stopping.await.unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/auth/health"))
            .await
            .is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn production_refuses_weak_or_missing_secrets_and_names_them() {
    use rampart_platform::secrets::local::LocalSource;
    use rampart_platform::secrets::{HASH_PEPPER, JWT_SIGNING_KEYS, Secrets};
    let check = |pairs: Vec<(&'static str, String)>| async move {
        let values = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let s = Secrets::new(
            Box::new(LocalSource::from_map(values)),
            rampart_platform::clock::system(),
            Duration::from_secs(60),
        );
        rampart_http::state::check_secrets(&s).await
    };
    let strong = || rampart_platform::crypto::random_token(32);
    assert!(
        check(vec![
            (HASH_PEPPER, strong()),
            (JWT_SIGNING_KEYS, format!("k1:{}", strong()))
        ])
        .await
        .is_ok()
    );
    let e = check(vec![(JWT_SIGNING_KEYS, format!("k1:{}", strong()))])
        .await
        .unwrap_err();
    assert!(e.0.contains("HASH_PEPPER is missing"), "{e}");
    let e = check(vec![
        (HASH_PEPPER, "changeme".into()),
        (JWT_SIGNING_KEYS, "k1:short".into()),
    ])
    .await
    .unwrap_err();
    assert!(
        e.0.contains("HASH_PEPPER") && e.0.contains("JWT_SIGNING_KEYS key k1"),
        "{e}"
    );
}

#[tokio::test]
async fn production_refuses_to_start_with_unsafe_settings() {
    let s = settings(&[("APP_ENV", "production"), ("COOKIE_SECURE", "false")]);
    let err = rampart_http::AppState::from_settings(
        s,
        rampart_platform::clock::system(),
        rampart_local::CLIENTS,
    )
    .await
    .err()
    .expect("refused");
    assert!(
        err.0.contains("COOKIE_SECURE")
            && err.0.contains("TABLE_NAME")
            && err.0.contains("QUEUE_URL"),
        "{err}"
    );
}
