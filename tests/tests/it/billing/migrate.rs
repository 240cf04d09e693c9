//! Teams migrating from their own Stripe integration: an operator links an existing Stripe
//! customer to a user (audited; refused for owner accounts, for a customer already linked to
//! another user, for a user who already has a customer, for a customer Stripe does not have),
//! after which Stripe's events about that customer reach the user; before that, such events end
//! `ignored` at once with the reason in the event log instead of being retried into the dead
//! letters. Against the Stripe stub, on both backends.

use rampart_billing::account::BillingAccount;
use rampart_store::Query;
use rampart_tests::{ADMIN_TOKEN, TestApp};
use serde_json::{Value, json};

use super::StubFx as Fx;
use super::{PRO_PRICE, event_record, get, problem, sign_up, stripe_event};

const OWNER: &str = "boss@example.com";

async fn embedded() -> Option<Fx> {
    super::with_stub(false, &[("OWNER_ACCOUNT_IDS", OWNER)]).await
}

async fn dynamo() -> Option<Fx> {
    super::with_stub(true, &[("OWNER_ACCOUNT_IDS", OWNER)]).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    events_about_an_unlinked_customer_end_ignored_at_once_with_the_reason_in_the_event_log,
    an_operator_links_an_existing_customer_and_its_subscription_events_then_set_the_plan,
    a_link_is_refused_for_owners_taken_customers_users_with_a_customer_and_unknown_customers,
);

async fn link(
    app: &TestApp,
    token: Option<&str>,
    user_id: &str,
    customer: &str,
) -> reqwest::Response {
    let mut r = app
        .client
        .post(app.url("/admin/billing/customer-links"))
        .json(&json!({"user_id": user_id, "customer_id": customer}));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

fn legacy_subscription(customer: &str, now: i64) -> Value {
    json!({
        "id": format!("sub_of_{customer}"),
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "cancel_at_period_end": false,
        "items": {"data": [{"id": "si_legacy", "price": {"id": PRO_PRICE}, "current_period_end": now + 86_400}]},
    })
}

async fn stored(app: &TestApp, uid: &str) -> BillingAccount {
    rampart_tests::stored_billing(&app.state, uid).await
}

async fn events_about_an_unlinked_customer_end_ignored_at_once_with_the_reason_in_the_event_log(
    fx: Fx,
) {
    let app = &fx.app;
    let now = app.state.clock.now_secs();
    for (ty, object) in [
        (
            "customer.subscription.updated",
            legacy_subscription("cus_nobody", now),
        ),
        (
            "invoice.payment_failed",
            json!({"object": "invoice", "customer": "cus_nobody", "status": "open"}),
        ),
    ] {
        let sent = stripe_event(app, ty, now, object).await;
        let ev = event_record(app, sent["id"].as_str().unwrap()).await;
        assert_eq!(ev["status"], "processed", "{ty}: {ev}");
        assert_eq!(ev["outcome"], "ignored", "{ty}");
        assert_eq!(ev["attempts"], 1, "{ty}: not retried");
        let reason = ev["outcome_reason"].as_str().unwrap();
        assert!(
            reason.contains("cus_nobody") && reason.contains("linked to no user"),
            "{reason}"
        );
        assert!(ev["last_error"].is_null(), "{ty}: not a failure");
    }
    fx.app.shutdown().await;
}

async fn an_operator_links_an_existing_customer_and_its_subscription_events_then_set_the_plan(
    fx: Fx,
) {
    let app = &fx.app;
    fx.stub.customer("cus_legacy");
    let (uid, token) = sign_up(app, "migrated@example.com").await;

    let r = link(app, Some(ADMIN_TOKEN), &uid, "cus_legacy").await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"user_id": uid, "customer_id": "cus_legacy"}));
    let again = link(app, Some(ADMIN_TOKEN), &uid, "cus_legacy").await;
    assert_eq!(again.status(), 200, "the same link again changes nothing");
    assert_eq!(
        stored(app, &uid).await.stripe_customer_id.as_deref(),
        Some("cus_legacy")
    );
    let audit = app
        .state
        .store
        .query(Query::table(format!("audit#{uid}")))
        .await
        .unwrap();
    let linked: Vec<_> = audit
        .items
        .iter()
        .filter(|i| i.s("kind") == Some("stripe_customer_linked"))
        .collect();
    assert_eq!(linked.len(), 1, "audited once: {audit:?}");

    // The subscription the team's own integration made renews: its event now reaches the user,
    // though it carries no metadata of ours.
    let now = app.state.clock.now_secs();
    let sent = stripe_event(
        app,
        "customer.subscription.updated",
        now,
        legacy_subscription("cus_legacy", now),
    )
    .await;
    assert_eq!(sent["outcome"], "applied");
    let view: Value = get(app, "/billing/subscription", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["plan"], "pro");
    assert_eq!(view["subscription_status"], "active");
    fx.app.shutdown().await;
}

async fn a_link_is_refused_for_owners_taken_customers_users_with_a_customer_and_unknown_customers(
    fx: Fx,
) {
    let app = &fx.app;
    fx.stub.customer("cus_taken");
    fx.stub.customer("cus_other");
    let (first, _) = sign_up(app, "first@example.com").await;
    let (second, _) = sign_up(app, "second@example.com").await;
    let (boss, _) = sign_up(app, OWNER).await;
    assert_eq!(
        link(app, Some(ADMIN_TOKEN), &first, "cus_taken")
            .await
            .status(),
        201
    );

    let (status, _, body) = problem(link(app, Some(ADMIN_TOKEN), &second, "cus_taken").await).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"].as_str().unwrap().contains("another user"),
        "{body}"
    );
    assert_eq!(
        stored(app, &second).await.stripe_customer_id,
        None,
        "nothing written"
    );

    let (status, _, body) = problem(link(app, Some(ADMIN_TOKEN), &first, "cus_other").await).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"].as_str().unwrap().contains("cus_taken"),
        "{body}"
    );

    let calls_before = fx.stub.calls().len();
    let (status, kind, _) = problem(link(app, Some(ADMIN_TOKEN), &boss, "cus_other").await).await;
    assert_eq!(
        (status, kind.as_str()),
        (403, "urn:rampart:problem:owner-exempt")
    );
    assert_eq!(
        fx.stub.calls().len(),
        calls_before,
        "Stripe never heard of the owner"
    );
    assert_eq!(stored(app, &boss).await.stripe_customer_id, None);

    let (status, _, body) =
        problem(link(app, Some(ADMIN_TOKEN), &second, "cus_missing").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/customer_id");
    // Stripe still answers a deleted customer's id: linking to it would bill nobody.
    fx.stub.deleted_customer("cus_deleted");
    let (status, _, body) =
        problem(link(app, Some(ADMIN_TOKEN), &second, "cus_deleted").await).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/customer_id");
    assert_eq!(stored(app, &second).await.stripe_customer_id, None);
    let (status, _, body) =
        problem(link(app, Some(ADMIN_TOKEN), &second, "acct_1; drop").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/customer_id");
    let (status, _, _) =
        problem(link(app, Some(ADMIN_TOKEN), "no-such-user", "cus_other").await).await;
    assert_eq!(status, 404);
    let (status, _, _) = problem(link(app, None, &second, "cus_other").await).await;
    assert_eq!(status, 401);
    assert_eq!(stored(app, &second).await.stripe_customer_id, None);
    fx.app.shutdown().await;
}
