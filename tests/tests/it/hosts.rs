//! The host allowlist (`ALLOWED_HOSTS`) over HTTP against the spawned local stack, on both store
//! backends: a request naming another host is refused with 400 `host-not-allowed` before any
//! route runs (health, a write, a preflight, an unknown path alike) and writes nothing; the
//! listed hosts are served, on any port unless the entry names one, subdomains through `*.`;
//! without a list every host is served.

use std::sync::Arc;

use rampart_tests::{TestApp, spawn_app_with};
use serde_json::{Value, json};

const ALLOWED: &str = "api.example.com, localhost:3000, *.lambda-url.eu-west-1.on.aws";
const PW: &str = "correct horse battery staple";

fn allowlist(mut state: rampart_http::AppState) -> rampart_http::AppState {
    state.settings = Arc::new(rampart_tests::settings(&[
        ("ALLOWED_HOSTS", ALLOWED),
        ("CORS_ALLOWED_ORIGINS", "https://app.example"),
    ]));
    state
}

async fn embedded() -> Option<TestApp> {
    let clock = rampart_platform::clock::system();
    let state = rampart_tests::embedded_state(rampart_tests::settings(&[]), clock);
    Some(spawn_app_with(allowlist(state)).await)
}

async fn aws() -> Option<TestApp> {
    let ep = rampart_tests::aws_endpoint()?;
    let clock = rampart_platform::clock::system();
    let store = rampart_tests::dynamo_store(&ep, clock.clone()).await;
    Some(spawn_app_with(allowlist(rampart_tests::state_on(store, clock))).await)
}

rampart_tests::on_backends!(super::embedded, super::aws;
    a_request_naming_another_host_is_refused_with_problem_json_and_writes_nothing,
    the_listed_hosts_are_served_on_any_port_unless_the_entry_names_one,
);

async fn send(app: &TestApp, method: &str, path: &str, host: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = app
        .client
        .request(method.clone(), app.url(path))
        .header("host", host);
    if method == reqwest::Method::POST {
        r = r.json(&json!({"email": "hostile@example.com", "password": PW}));
    }
    if method == reqwest::Method::OPTIONS {
        r = r
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST");
    }
    r.send().await.unwrap()
}

async fn a_request_naming_another_host_is_refused_with_problem_json_and_writes_nothing(
    app: TestApp,
) {
    for (method, path) in [
        ("GET", "/auth/health"),
        ("GET", "/webhooks/health"),
        ("POST", "/auth/register"),
        ("OPTIONS", "/auth/login"),
        ("GET", "/no/such/route"),
    ] {
        for host in [
            "evil.example",
            "api.example.com.evil.example",
            "localhost:3001",
        ] {
            let r = send(&app, method, path, host).await;
            assert_eq!(r.status(), 400, "{method} {path} as {host}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            assert!(r.headers().contains_key("x-request-id"));
            assert!(!r.headers().contains_key("access-control-allow-origin"));
            let body: Value = r.json().await.unwrap();
            assert_eq!(
                body["type"], "urn:rampart:problem:host-not-allowed",
                "{body}"
            );
            assert_eq!(body["status"], 400);
            assert!(
                !body.to_string().contains(host),
                "the host is not echoed: {body}"
            );
        }
    }
    // The refused registration stored nothing: the address signs in to no account.
    let r = app
        .client
        .post(app.url("/auth/login"))
        .header("host", "api.example.com")
        .json(&json!({"email": "hostile@example.com", "password": PW, "delivery": "body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn the_listed_hosts_are_served_on_any_port_unless_the_entry_names_one(app: TestApp) {
    for host in [
        "api.example.com",
        "API.Example.com:8443",
        "localhost:3000",
        "fnurl123.lambda-url.eu-west-1.on.aws",
    ] {
        let r = send(&app, "GET", "/auth/health", host).await;
        assert_eq!(r.status(), 200, "{host}");
    }
    let r = send(&app, "POST", "/auth/register", "api.example.com").await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = send(&app, "OPTIONS", "/auth/login", "api.example.com").await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
}

#[tokio::test]
async fn without_a_list_every_host_is_served() {
    let app = rampart_tests::spawn_app().await;
    let r = app
        .client
        .get(app.url("/auth/health"))
        .header("host", "anything.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
