//! `GET /account/export`: an attachment with one item of every kind written for the user and
//! nothing of another user, never a token, hash or secret; Stripe's invoices when reachable and
//! a note when not; 10 an hour per user.

use std::sync::Arc;

use serde_json::Value;

use super::{Fx, dynamo_fx, embedded_fx, get_as, seed};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    the_export_holds_one_of_every_kind_and_nothing_of_another_user,
);

fn len(v: &Value, section: &str) -> usize {
    v[section].as_array().map_or(0, Vec::len)
}

async fn the_export_holds_one_of_every_kind_and_nothing_of_another_user(fx: Fx) {
    let app = &fx.app;
    let alice = seed(&fx, "alice.export@example.com").await;
    let bob = seed(&fx, "bob.export@example.com").await;

    let r = get_as(app, "/account/export", &alice.token).await;
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"rampart-export-20")
            && disposition.ends_with(".json\""),
        "{disposition}"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let raw = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&raw).unwrap();

    assert_eq!(doc["format"], "rampart-export/1");
    assert_eq!(doc["profile"]["id"], alice.id.as_str());
    assert_eq!(doc["profile"]["email"], alice.email.as_str());
    assert_eq!(
        doc["billing"]["stripe_customer_id"],
        alice.stripe_customer.as_str()
    );
    assert_eq!(len(&doc, "sessions"), 1, "{}", doc["sessions"]);
    assert!(doc["sessions"][0]["created_at"].is_i64());
    // The client class recorded at sign-in, never the User-Agent itself.
    assert_eq!(doc["sessions"][0]["device_class"], "api");
    assert!(doc["profile"]["suspension"].is_null(), "never suspended");
    assert_eq!(
        len(&doc, "pending_codes"),
        2,
        "sign-in code and verification code"
    );
    assert_eq!(len(&doc, "orders"), 1);
    assert_eq!(doc["orders"][0]["id"], alice.order_id.as_str());
    assert_eq!(doc["orders"][0]["status"], "PAID");
    assert_eq!(len(&doc, "payments"), 1);
    assert_eq!(doc["payments"][0]["id"], alice.payment_id.as_str());
    assert_eq!(len(&doc, "esims"), 1);
    assert_eq!(doc["esims"][0]["id"], alice.esim_id.as_str());
    // The customer instance with Alice's address is not hers to see: she never proved the
    // mailbox (`customer`: the export of a verified contact).
    assert_eq!(len(&doc, "customers"), 0, "{}", doc["customers"]);
    assert!(
        doc.get("api_keys").is_none(),
        "the company's keys are never exported"
    );
    assert!(len(&doc, "idempotency_records") >= 1);
    assert!(
        len(&doc, "mails") >= 2,
        "verification, code and reset mails"
    );
    let audit: Vec<&str> = doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        audit.contains(&"login_success") && audit.contains(&"login_failure"),
        "{audit:?}"
    );
    assert_eq!(doc["consents"], serde_json::json!([]));
    assert!(
        doc["stripe"]["invoices"].is_array(),
        "invoices, or an empty list with a note: {}",
        doc["stripe"]
    );

    // Nothing of Bob's, and no credential of Alice's.
    for other in [
        &bob.id,
        &bob.email,
        &bob.order_id,
        &bob.stripe_customer,
        &bob.customer_instance,
    ] {
        assert!(
            !raw.contains(other.as_str()),
            "Bob's {other} is in Alice's export"
        );
    }
    for secret in [
        alice.token.as_str(),
        alice.refresh.as_str(),
        "$argon2",
        "secret_hash",
        "refresh_hash",
        "code_hash",
        "client_secret",
        "ip_hash",
    ] {
        assert!(!raw.contains(secret), "the export shows {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_stripe_is_a_note_and_the_export_still_succeeds() {
    let fx = embedded_fx().await.unwrap();
    let u = seed(&fx, "nostripe@example.com").await;
    let mut state = fx.app.state.clone();
    let mut settings = (*state.settings).clone();
    // A port nothing listens on.
    settings.stripe_api_base = "http://127.0.0.1:9".into();
    state.settings = Arc::new(settings);
    let user = rampart_auth::account::user(&state, &u.id).await.unwrap();
    let doc = rampart_gdpr::export::build(&state, user).await.unwrap();
    assert_eq!(doc["stripe"]["invoices"], serde_json::json!([]));
    assert!(
        doc["stripe"]["note"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{}",
        doc["stripe"]
    );
    assert_eq!(
        doc["orders"][0]["id"],
        u.order_id.as_str(),
        "the rest is there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exports_are_limited_to_ten_an_hour_per_user() {
    let fx = embedded_fx().await.unwrap();
    let app = &fx.app;
    let r = super::post_json(
        app,
        "/auth/register",
        None,
        serde_json::json!({"email": "often@example.com", "password": super::PW}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let (token, _) = super::login(app, "often@example.com").await.unwrap();
    for i in 0..10 {
        let r = get_as(app, "/account/export", &token).await;
        assert_eq!(r.status(), 200, "export {i}");
    }
    let r = get_as(app, "/account/export", &token).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let r = app
        .client
        .get(app.url("/account/export"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "no credentials, no export");
}
