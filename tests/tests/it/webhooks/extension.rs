//! A sixth provider, defined only here, registered next to the built-in ones and delivered
//! through the real intake routes and the real worker: adding a provider needs nothing but an
//! implementation of `Provider`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rampart_http::AppState;
use rampart_http::jobs::JobError;
use rampart_platform::clock::SharedClock;
use rampart_platform::secrets::local::LocalSource;
use rampart_platform::secrets::{HASH_PEPPER, Secrets};
use rampart_store::Update;
use rampart_tests::{embedded_state, serve_router, settings};
use rampart_webhooks::providers::{Delivery, Provider, Rejected, Verified};
use rampart_webhooks::signature::{VerifyError, configured, constant_time_eq, hmac_sha256};
use rampart_webhooks::{Outcome, Registry, WebhookEvent};
use serde_json::{Value, json};

use super::{BASE_SETTINGS, now};

const ACME_SECRET: &str = "acme-signing-secret";

/// Acme signs `hex(HMAC-SHA256(secret, body))` in `acme-signature` and credits accounts.
struct Acme;

enum AcmeEvent {
    Credit { account: String, cents: i64 },
    Other,
}

#[async_trait]
impl Provider for Acme {
    type Event = AcmeEvent;
    const NAME: &'static str = "acme";
    const PATHS: &'static [&'static str] = &["/webhooks/acme"];
    const SECRET: &'static str = "ACME_WEBHOOK_SECRET";

    fn verify(&self, d: &Delivery<'_>, secrets: &[String]) -> Result<Verified, Rejected> {
        let given = d.header("acme-signature").ok_or(VerifyError::Missing)?;
        let given = hex::decode(given).map_err(|_| VerifyError::Malformed)?;
        let ok = configured(secrets)?
            .iter()
            .any(|s| constant_time_eq(&hmac_sha256(s.as_bytes(), d.body), &given));
        if !ok {
            return Err(VerifyError::Mismatch.into());
        }
        let j: Value = serde_json::from_slice(d.body).map_err(|_| Rejected::Malformed)?;
        let id = j["id"].as_str().ok_or(Rejected::Malformed)?;
        let kind = j["kind"].as_str().unwrap_or("unknown");
        Ok(d.verified(Self::NAME, id, kind, j["at"].as_i64()))
    }

    fn parse(&self, event: &WebhookEvent) -> Result<AcmeEvent, JobError> {
        let j: Value = serde_json::from_slice(event.payload())
            .map_err(|e| JobError::Malformed(e.to_string()))?;
        Ok(match (j["kind"].as_str(), j["account"].as_str()) {
            (Some("credit"), Some(account)) => AcmeEvent::Credit {
                account: account.into(),
                cents: j["cents"].as_i64().unwrap_or(0),
            },
            _ => AcmeEvent::Other,
        })
    }

    async fn apply(
        &self,
        state: &AppState,
        _: &WebhookEvent,
        ev: AcmeEvent,
    ) -> Result<Outcome, JobError> {
        let AcmeEvent::Credit { account, cents } = ev else {
            return Ok(Outcome::Ignored);
        };
        state
            .store
            .update(
                &format!("acme#{account}"),
                "balance",
                Update::new().add("cents", cents),
                None,
            )
            .await
            .map_err(JobError::failed)?;
        Ok(Outcome::Applied)
    }
}

fn sign(body: &str) -> String {
    hex::encode(hmac_sha256(ACME_SECRET.as_bytes(), body.as_bytes()))
}

#[tokio::test]
async fn a_provider_defined_outside_the_crate_is_received_verified_and_applied_once() {
    let clock = rampart_platform::clock::system();
    let mut state = embedded_state(settings(BASE_SETTINGS), clock.clone());
    let shared: SharedClock = clock;
    state.secrets = Arc::new(Secrets::new(
        Box::new(LocalSource::from_map(BTreeMap::from([
            (
                HASH_PEPPER.to_string(),
                "a-pepper-for-this-test-only-0123456789".into(),
            ),
            ("ACME_WEBHOOK_SECRET".to_string(), ACME_SECRET.to_string()),
        ]))),
        shared,
        Duration::from_secs(300),
    ));
    let registry = Registry::builtin_with(jobs_worker::effects()).with(Acme);
    let addr = serve_router(webhooks_api::router_with(state.clone(), &registry)).await;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(rampart_http::jobs::worker_loop(
        state.clone(),
        jobs_worker::dispatcher_with(registry),
        stop_rx,
    ));
    let client = reqwest::Client::new();
    let post = |path: &str, body: &str, sig: Option<String>| {
        let mut r = client
            .post(format!("http://{addr}{path}"))
            .body(body.to_string());
        if let Some(s) = sig {
            r = r.header("acme-signature", s);
        }
        r.send()
    };
    let body =
        json!({"id": "acme_1", "kind": "credit", "account": "a1", "cents": 250, "at": now()})
            .to_string();
    for _ in 0..2 {
        let r = post("/webhooks/acme", &body, Some(sign(&body)))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"received": true}));
    }
    let forged = post("/webhooks/acme", &body, Some(sign("{}")))
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        400,
        "verified by the provider's own scheme"
    );
    let builtin = post("/webhooks/stripe", "{}", None).await.unwrap();
    assert_eq!(
        builtin.status(),
        400,
        "the built-in providers are still served"
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let event = loop {
        let e: Option<WebhookEvent> = rampart_store::load(
            &*state.store,
            &rampart_store::keys::webhook_event("acme", "acme_1"),
        )
        .await
        .unwrap();
        if let Some(e) = e.filter(|e| e.status == rampart_webhooks::Status::Processed) {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "acme_1 was not processed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(event.outcome, Some(Outcome::Applied));
    assert_eq!(event.event_type.as_deref(), Some("credit"));
    assert_eq!(event.attempts, 1);
    let balance = state
        .store
        .get("acme#a1", "balance")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        balance.n("cents"),
        Some(250),
        "credited once for two deliveries"
    );
    let _ = stop.send(true);
    worker.await.unwrap();
}
