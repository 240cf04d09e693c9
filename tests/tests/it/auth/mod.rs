//! auth-api over HTTP against the spawned local stack: every route, and the attacks the design
//! has to defeat. One file per behaviour area; the fixtures they share are here.

mod codes;
mod conflicts;
mod counters;
mod csrf_cookies;
mod devices;
mod limits;
mod links;
mod lockout;
mod mailbox;
mod own_sessions;
mod password;
mod register_login;
mod rotation;
mod sessions;
mod suspension;
mod two_factor;
mod two_factor_delete;
mod verification;

use std::collections::HashMap;
use std::sync::Arc;

use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_tests::{TestApp, embedded_state, manual_clock, settings, spawn_app_with};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";

type Fx = (TestApp, Arc<ManualClock>);

fn test_settings(extra: &[(&str, &str)]) -> rampart_platform::config::Settings {
    let mut pairs = vec![
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("CORS_ALLOWED_ORIGINS", "https://app.example"),
        ("APP_URL", "https://app.example"),
    ];
    pairs.extend_from_slice(extra);
    settings(&pairs)
}

/// The stack on a manual clock, believing X-Forwarded-For from loopback so tests can act from
/// several client addresses.
async fn app_with(extra: &[(&str, &str)]) -> Fx {
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    (
        spawn_app_with(embedded_state(test_settings(extra), shared)).await,
        clock,
    )
}

/// The same stack on a fresh DynamoDB table (moto), or `None` when no test endpoint is set.
async fn dynamo_app() -> Option<Fx> {
    let endpoint = rampart_tests::aws_endpoint()?;
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let store = rampart_tests::dynamo_store(&endpoint, shared.clone()).await;
    let mut state = embedded_state(test_settings(&[]), shared.clone());
    state.store = store.clone();
    state.mailer = Arc::new(rampart_http::mail::Outbox::new(store, shared, false));
    Some((spawn_app_with(state).await, clock))
}

/// One test per backend for an auth scenario `async fn name(fx: Fx)`: `embedded::name` and
/// `dynamodb::name` (skipped without a test endpoint, a failure under `RAMPART_REQUIRE_AWS=1`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::super::app_with(&[]).await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(fx) = super::super::dynamo_app().await else {
                        eprintln!("skipped: no AWS test endpoint");
                        return;
                    };
                    super::$name(fx).await;
                }
            )*
        }
    };
}
use on_both_backends;

/// A minimal cookie jar: what a browser would send back.
#[derive(Default, Clone)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = pair.split_once('=').unwrap();
            if v.contains("Max-Age=0") {
                self.0.remove(k);
            } else {
                self.0.insert(k.to_string(), val.to_string());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn get(&self, k: &str) -> String {
        self.0.get(k).cloned().unwrap_or_default()
    }
}

async fn post(app: &TestApp, path: &str, body: Value, ip: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn register(app: &TestApp, email: &str) -> Value {
    let r = post(
        app,
        "/auth/register",
        json!({"email": email, "password": PW}),
        "198.51.100.1",
    )
    .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Logs in with body delivery: (access, refresh).
async fn login_body(app: &TestApp, email: &str, ip: &str) -> (String, String) {
    let r = post(
        app,
        "/auth/login",
        json!({"email": email, "password": PW, "delivery": "body"}),
        ip,
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    (
        b["access_token"].as_str().unwrap().into(),
        b["refresh_token"].as_str().unwrap().into(),
    )
}

async fn login_cookie(app: &TestApp, email: &str) -> Jar {
    let r = post(
        app,
        "/auth/login",
        json!({"email": email, "password": PW}),
        "198.51.100.2",
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    jar
}

async fn me_bearer(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn outbox(app: &TestApp, to: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

/// The newest mail to `to` whose subject starts with `subject`.
async fn newest_mail(app: &TestApp, to: &str, subject: &str) -> Value {
    outbox(app, to)
        .await
        .into_iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with(subject))
        .unwrap_or_else(|| panic!("no mail {subject:?} to {to}"))
}

/// Mails to `to` whose subject starts with `subject`.
async fn mails_about(app: &TestApp, to: &str, subject: &str) -> Vec<Value> {
    outbox(app, to)
        .await
        .into_iter()
        .filter(|m| m["subject"].as_str().unwrap().starts_with(subject))
        .collect()
}

const SIGN_IN_MAIL: &str = "Your sign-in code";
const RESET_MAIL: &str = "Reset your password";
const VERIFY_MAIL: &str = "Confirm your email address";
const PASSWORD_REMOVED_MAIL: &str = "Your account's password was removed";

async fn sign_in_code(app: &TestApp, to: &str) -> String {
    code_in(&newest_mail(app, to, SIGN_IN_MAIL).await)
}

async fn reset_token(app: &TestApp, to: &str) -> String {
    token_in(&newest_mail(app, to, RESET_MAIL).await)
}

async fn verification_code(app: &TestApp, to: &str) -> String {
    code_in(&newest_mail(app, to, VERIFY_MAIL).await)
}

fn code_in(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string()
}

fn token_in(mail: &Value) -> String {
    let body = mail["body"].as_str().unwrap();
    body.split(": ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}
