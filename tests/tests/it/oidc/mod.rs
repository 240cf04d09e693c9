//! Sign-in with Google and GitHub through the real routes, against the providers' stand-in
//! (`scripts/oidc_standin.py`, started by the test command: `RAMPART_TEST_OIDC_BASE`), on both
//! backends: the flows (`flows`), the attacks the design must defeat (`attacks`), and what the
//! account's other rules do to a provider sign-in (`accounts`). The fixtures they share are here.

mod accounts;
mod attacks;
mod flows;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rampart_platform::clock::SharedClock;
use rampart_platform::secrets::local::LocalSource;
use rampart_platform::secrets::{HASH_PEPPER, JWT_SIGNING_KEYS, Secrets};
use rampart_tests::{ADMIN_TOKEN, TestApp, embedded_state, settings, spawn_app_with};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The stand-in's base URL, or `None` (skipped) when the test command did not start it.
pub(crate) fn standin() -> Option<String> {
    let base = std::env::var("RAMPART_TEST_OIDC_BASE")
        .ok()
        .filter(|s| !s.is_empty());
    if base.is_none() && std::env::var("RAMPART_REQUIRE_AWS").is_ok_and(|v| v == "1") {
        panic!(
            "RAMPART_REQUIRE_AWS=1 but RAMPART_TEST_OIDC_BASE is not set: the OIDC stand-in is not running"
        );
    }
    base
}

/// The stand-in's client credentials (scripts/oidc_standin.py, `CLIENTS`).
const CLIENTS: &[(&str, &str)] = &[
    ("GOOGLE_CLIENT_ID", "rampart-local-google"),
    (
        "GOOGLE_CLIENT_SECRET",
        "local-google-client-0123456789abcdef",
    ),
    ("GITHUB_CLIENT_ID", "rampart-local-github"),
    (
        "GITHUB_CLIENT_SECRET",
        "local-github-client-0123456789abcdef",
    ),
];

pub(crate) const APP: &str = "https://app.example";

fn secrets(clock: SharedClock, providers: bool) -> Arc<Secrets> {
    let mut values = BTreeMap::from([
        (
            HASH_PEPPER.to_string(),
            rampart_platform::crypto::random_token(32),
        ),
        (
            JWT_SIGNING_KEYS.to_string(),
            format!("t1:{}", rampart_platform::crypto::random_token(32)),
        ),
        ("ADMIN_API_TOKEN".to_string(), ADMIN_TOKEN.to_string()),
    ]);
    if providers {
        values.extend(CLIENTS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    Arc::new(Secrets::new(
        Box::new(LocalSource::from_map(values)),
        clock,
        Duration::from_secs(300),
    ))
}

/// A state pointed at the stand-in `base` (the providers configured when `providers`), on the
/// system clock: the stand-in signs with the real time.
pub(crate) fn state_for(base: &str, providers: bool) -> rampart_http::AppState {
    let google = format!("{base}/google");
    let s = settings(&[
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("APP_URL", APP),
        ("GOOGLE_OIDC_ISSUER", &google),
        ("GITHUB_OAUTH_URL", base),
        ("GITHUB_API_URL", base),
    ]);
    let clock = rampart_platform::clock::system();
    let mut state = embedded_state(s, clock.clone());
    state.secrets = secrets(clock, providers);
    state
}

pub(crate) struct Fx {
    pub app: TestApp,
}

pub(crate) async fn embedded_fx() -> Option<Fx> {
    let base = standin()?;
    Some(Fx {
        app: spawn_app_with(state_for(&base, true)).await,
    })
}

pub(crate) async fn dynamo_fx() -> Option<Fx> {
    let base = standin()?;
    let endpoint = rampart_tests::aws_endpoint()?;
    let mut state = state_for(&base, true);
    let store = rampart_tests::dynamo_store(&endpoint, state.clock.clone()).await;
    state.mailer = Arc::new(rampart_http::mail::Outbox::new(
        store.clone(),
        state.clock.clone(),
        false,
    ));
    state.store = store;
    Some(Fx {
        app: spawn_app_with(state).await,
    })
}

/// One test per backend for `async fn name(fx: Fx)`, skipped without the stand-in (a failure
/// under `RAMPART_REQUIRE_AWS=1`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(fx) = super::super::embedded_fx().await else {
                        eprintln!("skipped: no OIDC stand-in");
                        return;
                    };
                    super::$name(fx).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(fx) = super::super::dynamo_fx().await else {
                        eprintln!("skipped: no AWS test endpoint or OIDC stand-in");
                        return;
                    };
                    super::$name(fx).await;
                }
            )*
        }
    };
}
use on_both_backends;

/// What a browser keeps: the cookies the API set.
#[derive(Default, Clone, Debug)]
pub(crate) struct Jar(pub HashMap<String, String>);

impl Jar {
    pub fn absorb(&mut self, headers: &HeaderMap) {
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
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A sign-in in flight: the browser's cookies after the start, and where the provider sends it
/// back (the callback URL with `code` and `state`).
pub(crate) struct Flight {
    pub jar: Jar,
    pub authorize: String,
    pub callback: String,
}

pub(crate) fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// `GET /auth/oauth/{provider}/start?{query}` then the provider's authorize endpoint with the
/// stand-in's knobs `at_provider` (`login_hint=…&standin_token=…`).
pub(crate) async fn fly(app: &TestApp, provider: &str, query: &str, at_provider: &str) -> Flight {
    let r = app
        .client
        .get(app.url(&format!("/auth/oauth/{provider}/start?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    let authorize = location(&r);
    let at = app
        .client
        .get(format!("{authorize}&{at_provider}"))
        .send()
        .await
        .unwrap();
    assert_eq!(at.status(), 302, "stand-in: {:?}", at.text().await);
    Flight {
        jar,
        authorize,
        callback: location(&at),
    }
}

/// The provider's redirect back to the API, from a browser holding `jar` (from IP `ip`).
pub(crate) async fn back(app: &TestApp, callback: &str, jar: &Jar, ip: &str) -> reqwest::Response {
    app.client
        .get(callback)
        .header("cookie", jar.header())
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
}

/// A whole sign-in with body delivery: the callback's answer.
pub(crate) async fn sign_in(app: &TestApp, provider: &str, at_provider: &str) -> reqwest::Response {
    let f = fly(app, provider, "delivery=body", at_provider).await;
    back(app, &f.callback, &f.jar, "198.51.100.40").await
}

/// A whole sign-in with body delivery that must succeed: the access token.
pub(crate) async fn signed_in(app: &TestApp, provider: &str, at_provider: &str) -> String {
    let r = sign_in(app, provider, at_provider).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let b: Value = r.json().await.unwrap();
    b["access_token"].as_str().unwrap().to_string()
}

pub(crate) async fn me(app: &TestApp, token: &str) -> Value {
    let r = app
        .client
        .get(app.url("/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Status and problem `type` of a problem+json answer.
pub(crate) async fn problem(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    let b: Value = r.json().await.unwrap();
    (status, b["type"].as_str().unwrap().to_string())
}

pub(crate) fn urn(slug: &str) -> String {
    format!("urn:rampart:problem:{slug}")
}

/// The identities linked to `user_id`, as stored.
pub(crate) async fn identities(app: &TestApp, user_id: &str) -> Vec<rampart_auth::LinkedIdentity> {
    let (pk, _) = rampart_store::keys::user(user_id);
    rampart_store::query_all(
        &*app.state.store,
        &pk,
        Some(rampart_store::keys::IDENTITY_PREFIX),
    )
    .await
    .unwrap()
    .iter()
    .map(|i| rampart_auth::LinkedIdentity::try_from(i).unwrap())
    .collect()
}
