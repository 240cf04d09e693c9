//! The Stripe side of erasure: the customer's deletion goes through the worker and reaches
//! Stripe (localstripe when the test command started it, through the recording stand-in)
//! exactly once, however often the job is queued; later events about the erased user's
//! customer, or naming the old user, are `ignored` and re-create nothing.

use std::time::Duration;

use rampart_gdpr::{erasure, job};
use rampart_http::jobs::Envelope;
use rampart_store::keys;
use serde_json::{Value, json};

use super::{
    Fx, PRO_PRICE, PW, delete_account, dynamo_fx, embedded_fx, partition, seed, until_view,
};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    the_stripe_customer_is_deleted_once_and_replayed_events_are_ignored,
);

fn deletions(fx: &Fx, customer: &str) -> usize {
    let path = format!("/v1/customers/{customer}");
    fx.stub
        .calls()
        .iter()
        .filter(|c| c.method == "DELETE" && c.path == path)
        .count()
}

async fn the_stripe_customer_is_deleted_once_and_replayed_events_are_ignored(fx: Fx) {
    let app = &fx.app;
    let u = seed(&fx, "stripe.gone@example.com").await;
    let r = delete_account(app, &u.token, PW).await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["erasure_id"]
        .as_str()
        .unwrap()
        .to_string();
    until_view(app, &id, |v| v["stripe_customer_deleted"] == true).await;
    assert_eq!(deletions(&fx, &u.stripe_customer), 1);

    // The job queued again (a Stripe step re-run after a crash) and a sweep: no second call.
    let msg = Envelope::message(job::KIND, json!({ "erasure_id": id }));
    app.state.queue.send(msg).await.unwrap();
    erasure::resume_pending(&app.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        deletions(&fx, &u.stripe_customer),
        1,
        "reached Stripe exactly once"
    );

    // Events about the erased user's customer or naming the old user change nothing.
    let now = app.state.clock.now_secs();
    let sub = json!({"id": "sub_gone", "customer": u.stripe_customer, "status": "active",
        "metadata": {"user_id": u.id},
        "items": {"data": [{"price": {"id": PRO_PRICE}, "current_period_end": now + 86_400}]},
        "cancel_at_period_end": false});
    let ev = crate::billing::stripe_event(app, "customer.subscription.updated", now, sub).await;
    assert_eq!(ev["outcome"], "ignored", "{ev}");
    let done = json!({"client_reference_id": u.id, "customer": u.stripe_customer, "subscription": "sub_gone"});
    let ev = crate::billing::stripe_event(app, "checkout.session.completed", now, done).await;
    assert_eq!(ev["outcome"], "ignored", "{ev}");
    assert!(
        partition(app, &keys::user(&u.id).0).await.is_empty(),
        "nothing re-created"
    );
}
