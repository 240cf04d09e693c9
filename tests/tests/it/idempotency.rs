//! Idempotency keys on both backends (plain functions), and the one idempotent path over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use rampart_http::idempotency::{self, Claim, StoredResponse};
use rampart_platform::clock::Clock;
use rampart_platform::error::ApiError;
use rampart_store::{Condition, Item, StoreError, Write};
use rampart_tests::{embedded_state, settings};

const TTL: Duration = Duration::from_secs(86_400);

use rampart_tests::StateFx as Fx;

rampart_tests::on_backends!(
    rampart_tests::embedded_state_fx, rampart_tests::dynamo_state_fx;
    replay_conflict_and_mismatch,
    dead_holder_is_taken_over,
    release_allows_retry,
    racing_claims_have_one_holder,
    expired_key_is_reusable,
    completion_commits_with_business_writes,
);

fn resp() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/orders/1".into()),
        ],
        body: br#"{"id":"1"}"#.to_vec(),
    }
}

async fn claim(fx: &Fx, key: &str, hash: &str) -> Result<Claim, ApiError> {
    idempotency::claim(
        &fx.state.store,
        fx.clock.now_secs(),
        TTL,
        "user:1",
        key,
        hash,
    )
    .await
}

fn acquired(c: Result<Claim, ApiError>) -> idempotency::Guard {
    match c {
        Ok(Claim::Acquired(g)) => g,
        other => panic!("expected a claim, got {other:?}"),
    }
}

fn status(c: Result<Claim, ApiError>) -> u16 {
    match c {
        Err(e) => e.status().as_u16(),
        Ok(other) => panic!("expected an error, got {other:?}"),
    }
}

async fn replay_conflict_and_mismatch(fx: Fx) {
    let g = acquired(claim(&fx, "k1", "h1").await);
    assert_eq!(
        status(claim(&fx, "k1", "h1").await),
        409,
        "still in progress"
    );
    assert_eq!(
        status(claim(&fx, "k1", "h2").await),
        422,
        "different payload"
    );
    idempotency::complete(&fx.state.store, &g, &resp())
        .await
        .unwrap();
    match claim(&fx, "k1", "h1").await.unwrap() {
        Claim::Replay(r) => assert_eq!(r, resp()),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert_eq!(status(claim(&fx, "k1", "h2").await), 422);
    // Another subject's identical key is independent.
    let other = idempotency::claim(
        &fx.state.store,
        fx.clock.now_secs(),
        TTL,
        "user:2",
        "k1",
        "h9",
    )
    .await;
    acquired(other);
}

async fn dead_holder_is_taken_over(fx: Fx) {
    let g1 = acquired(claim(&fx, "k2", "h").await);
    fx.clock
        .advance(idempotency::IN_PROGRESS_DEADLINE - Duration::from_secs(1));
    assert_eq!(status(claim(&fx, "k2", "h").await), 409);
    fx.clock.advance(Duration::from_secs(1));
    let g2 = acquired(claim(&fx, "k2", "h").await);
    let late = idempotency::complete(&fx.state.store, &g1, &resp()).await;
    assert!(
        matches!(late, Err(StoreError::ConditionFailed { .. })),
        "the dead holder cannot finish"
    );
    idempotency::complete(&fx.state.store, &g2, &resp())
        .await
        .unwrap();
    assert!(matches!(claim(&fx, "k2", "h").await, Ok(Claim::Replay(_))));
}

async fn release_allows_retry(fx: Fx) {
    let g = acquired(claim(&fx, "k3", "h").await);
    idempotency::release(&fx.state.store, &g).await.unwrap();
    acquired(claim(&fx, "k3", "h").await);
}

async fn racing_claims_have_one_holder(fx: Fx) {
    let now = fx.clock.now_secs();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = fx.state.store.clone();
        tasks.push(tokio::spawn(async move {
            idempotency::claim(&store, now, TTL, "user:1", "race", "h").await
        }));
    }
    let (mut won, mut conflicts) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(Claim::Acquired(_)) => won += 1,
            Err(ApiError::Conflict(_)) => conflicts += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((won, conflicts), (1, 19));
}

async fn expired_key_is_reusable(fx: Fx) {
    let g = acquired(claim(&fx, "k4", "h").await);
    idempotency::complete(&fx.state.store, &g, &resp())
        .await
        .unwrap();
    fx.clock.advance(TTL);
    acquired(claim(&fx, "k4", "other").await);
}

async fn completion_commits_with_business_writes(fx: Fx) {
    let g = acquired(claim(&fx, "k5", "h").await);
    let blocked = vec![
        Write::Put {
            item: Item::new("order#1", "meta").with("total", 100),
            cond: Some(Condition::Exists),
        },
        idempotency::completion_write(&g, &resp()),
    ];
    assert!(fx.state.store.transact(blocked).await.is_err());
    assert_eq!(
        status(claim(&fx, "k5", "h").await),
        409,
        "response not stored when the business write failed"
    );
    assert!(
        fx.state
            .store
            .get("order#1", "meta")
            .await
            .unwrap()
            .is_none()
    );
    let ok = vec![
        Write::Put {
            item: Item::new("order#1", "meta").with("total", 100),
            cond: Some(Condition::NotExists),
        },
        idempotency::completion_write(&g, &resp()),
    ];
    fx.state.store.transact(ok).await.unwrap();
    assert!(
        fx.state
            .store
            .get("order#1", "meta")
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(claim(&fx, "k5", "h").await, Ok(Claim::Replay(_))));
}

/// A request the test holds inside the handler: `started` fires once it runs (its claim is
/// held), and it finishes when `release` fires. No sleeps: the order is the test's, not the
/// scheduler's.
#[derive(Clone, Default)]
struct Held {
    started: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

/// A route on the one idempotent path (claim in the handler, scoped by the caller named in
/// `x-test-user`, which stands in for authentication); `fail` makes it answer 500 once, a body
/// with `slow` waits in the handler until `Held::release`.
async fn guarded_app() -> (String, Arc<AtomicU32>, Arc<AtomicU32>, Held) {
    use rampart_http::idempotency::request::{self, Reply, WriteRequest};
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let calls = Arc::new(AtomicU32::new(0));
    let fail_next = Arc::new(AtomicU32::new(0));
    let held = Held::default();
    let (c, f, h) = (calls.clone(), fail_next.clone(), held.clone());
    let handler = move |axum::extract::State(state): axum::extract::State<
        rampart_http::AppState,
    >,
                        headers: axum::http::HeaderMap,
                        body: axum::body::Bytes| {
        let (c, f, h) = (c.clone(), f.clone(), h.clone());
        async move {
            let key = request::required_key(&headers)?;
            let user = headers
                .get("x-test-user")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiError::Unauthorized("who is calling?".into()))?;
            let req = WriteRequest {
                headers: &headers,
                path: "/things",
                body: &body,
            };
            let guard = match request::claim(&state, &format!("test:{user}"), &key, req).await? {
                Claim::Replay(r) => return Ok::<_, ApiError>(Reply::Replayed(r)),
                Claim::Acquired(g) => g,
            };
            let work = async {
                let body: serde_json::Value = rampart_http::json::body(&headers, &body)?;
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                if body.get("slow").is_some() {
                    h.started.notify_one();
                    h.release.notified().await;
                }
                if f.swap(0, Ordering::SeqCst) == 1 {
                    return Err(ApiError::internal("boom"));
                }
                Ok(serde_json::json!({ "call": n, "echo": body }))
            };
            let view = request::release_on_error(&state, &guard, work.await).await?;
            let resp = request::stored(201, None, &view);
            idempotency::complete(&state.store, &guard, &resp).await?;
            Ok(Reply::Fresh {
                resp,
                limits: Default::default(),
            })
        }
    };
    let routes = Router::new()
        .route("/things", post(handler))
        .with_state(state.clone());
    let router = rampart_http::finish(routes, &state, Default::default());
    let addr = rampart_tests::serve_router(router).await;
    (format!("http://{addr}/things"), calls, fail_next, held)
}

#[tokio::test]
async fn the_idempotent_path_replays_rejects_and_releases() {
    let (url, calls, fail_next, held) = guarded_app().await;
    let c = reqwest::Client::new();
    let send_as = |user: &str, key: Option<&str>, body: &str| {
        let mut r = c
            .post(&url)
            .header("content-type", "application/json")
            .header("x-test-user", user)
            .body(body.to_string());
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        r.send()
    };
    let send = |key: Option<&str>, body: &str| send_as("alice", key, body);
    let r = send(None, "{}").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Idempotency-Key"));
    assert_eq!(send(Some("has space"), "{}").await.unwrap().status(), 400);

    let first = send(Some("abc"), r#"{"a":1}"#).await.unwrap();
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();
    let again = send(Some("abc"), r#"{ "a" : 1 }"#).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the handler ran once");

    let other = send(Some("abc"), r#"{"a":2}"#).await.unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(other.headers()["content-type"], "application/problem+json");

    fail_next.store(1, Ordering::SeqCst);
    assert_eq!(send(Some("def"), "{}").await.unwrap().status(), 500);
    let retried = send(Some("def"), "{}").await.unwrap();
    assert_eq!(retried.status(), 201, "a 5xx releases the key");
    assert!(retried.headers().get("idempotent-replayed").is_none());

    // The same key and body from another caller is that caller's own request: no replay.
    let bob = send_as("bob", Some("abc"), r#"{"a":1}"#).await.unwrap();
    assert_eq!(bob.status(), 201);
    assert!(bob.headers().get("idempotent-replayed").is_none());
    assert_ne!(bob.text().await.unwrap(), first_body);
    // No caller identity and no authentication: refused, never a shared key.
    let anon = c
        .post(&url)
        .header("content-type", "application/json")
        .header("idempotency-key", "abc")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let slow = tokio::spawn(send(Some("slow"), r#"{"slow":true}"#));
    held.started.notified().await;
    assert_eq!(
        send(Some("slow"), r#"{"slow":true}"#)
            .await
            .unwrap()
            .status(),
        409,
        "the first still holds the key"
    );
    held.release.notify_one();
    assert_eq!(slow.await.unwrap().unwrap().status(), 201);
}
