//! The three gaps trying the billing flows as a user found: an owner's checkout made
//! anyway leaves every later subscription event `owner_blocked` (never retried into the dead
//! letters); a late deletion of a replaced subscription never downgrades the user; a checkout
//! our API did not create is `ignored` and links nothing.

use rampart_billing::link::CustomerLink;
use rampart_store::{keys, load};
use serde_json::{Value, json};

use super::{app, me, our_customer, processed, stripe_event};

fn sub(id: &str, customer: &str, price: &str, status: &str) -> Value {
    json!({"id": id, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": false,
        "items": {"data": [{"price": {"id": price}, "current_period_end": 1_900_000_000}]}})
}

async fn outcome(app: &rampart_tests::TestApp, id: &str) -> (Option<String>, i64) {
    let r = processed(app, "stripe", id).await;
    (r.s("outcome").map(str::to_string), r.n("attempts").unwrap())
}

#[tokio::test]
async fn an_owners_checkout_leaves_every_later_subscription_event_owner_blocked() {
    let app = app(&[
        ("STRIPE_PRICES", "pro=price_p"),
        ("OWNER_ACCOUNT_IDS", "boss@example.com"),
    ])
    .await;
    let boss = me(&app, "boss@example.com").await;
    let bid = boss["id"].as_str().unwrap().to_string();
    // A dashboard mistake: a checkout naming the owner completes anyway.
    stripe_event(
        &app,
        "evt_boss_co",
        "checkout.session.completed",
        100,
        json!({"client_reference_id": bid, "customer": "cus_boss", "subscription": "sub_boss"}),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_boss_co").await.0.as_deref(),
        Some("owner_blocked")
    );
    // The subscription events after it name only the customer (no metadata of ours).
    for (id, ty, at) in [
        ("evt_boss_created", "customer.subscription.created", 101),
        ("evt_boss_updated", "customer.subscription.updated", 102),
        ("evt_boss_deleted", "customer.subscription.deleted", 103),
    ] {
        stripe_event(
            &app,
            id,
            ty,
            at,
            sub("sub_boss", "cus_boss", "price_p", "active"),
        )
        .await;
        let (o, attempts) = outcome(&app, id).await;
        assert_eq!(o.as_deref(), Some("owner_blocked"), "{ty}");
        assert_eq!(attempts, 1, "{ty}: blocked at once, no retries");
    }
    stripe_event(
        &app,
        "evt_boss_inv",
        "invoice.paid",
        104,
        json!({"customer": "cus_boss", "subscription": "sub_boss"}),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_boss_inv").await.0.as_deref(),
        Some("owner_blocked")
    );
    let boss = me(&app, "boss@example.com").await;
    assert_eq!(
        (boss["plan"].as_str(), boss["subscription_status"].as_str()),
        (Some("free"), Some("none"))
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_late_deletion_of_a_replaced_subscription_does_not_downgrade_the_user() {
    let app = app(&[("STRIPE_PRICES", "starter=price_s,pro=price_p")]).await;
    let user = me(&app, "upgrader@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    our_customer(&app, "cus_up", &uid).await;
    stripe_event(
        &app,
        "evt_a",
        "customer.subscription.created",
        100,
        sub("sub_a", "cus_up", "price_s", "active"),
    )
    .await;
    assert_eq!(outcome(&app, "evt_a").await.0.as_deref(), Some("applied"));
    // The user moves to a new subscription; the old one is deleted, and Stripe's deletion
    // event arrives after the new subscription's.
    stripe_event(
        &app,
        "evt_b",
        "customer.subscription.created",
        200,
        sub("sub_b", "cus_up", "price_p", "active"),
    )
    .await;
    assert_eq!(outcome(&app, "evt_b").await.0.as_deref(), Some("applied"));
    stripe_event(
        &app,
        "evt_a_gone",
        "customer.subscription.deleted",
        300,
        sub("sub_a", "cus_up", "price_s", "canceled"),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_a_gone").await.0.as_deref(),
        Some("superseded")
    );
    // An update of the old one is no more current than its deletion.
    stripe_event(
        &app,
        "evt_a_upd",
        "customer.subscription.updated",
        301,
        sub("sub_a", "cus_up", "price_s", "past_due"),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_a_upd").await.0.as_deref(),
        Some("superseded")
    );
    let after = me(&app, "upgrader@example.com").await;
    assert_eq!(
        (
            after["plan"].as_str(),
            after["subscription_status"].as_str()
        ),
        (Some("pro"), Some("active"))
    );
    // The current one's deletion still ends the plan.
    stripe_event(
        &app,
        "evt_b_gone",
        "customer.subscription.deleted",
        400,
        sub("sub_b", "cus_up", "price_p", "canceled"),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_b_gone").await.0.as_deref(),
        Some("applied")
    );
    assert_eq!(me(&app, "upgrader@example.com").await["plan"], "free");
    app.shutdown().await;
}

#[tokio::test]
async fn a_checkout_our_api_did_not_create_is_ignored_and_links_nothing() {
    let app = app(&[("STRIPE_PRICES", "pro=price_p")]).await;
    let user = me(&app, "target@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    // Someone paid through a link that let them name our user, with a customer of their own
    // (same email or not: the email is never used to match).
    stripe_event(
        &app,
        "evt_foreign",
        "checkout.session.completed",
        100,
        json!({"client_reference_id": uid, "customer": "cus_stranger", "subscription": "sub_x",
            "customer_details": {"email": "target@example.com"}}),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_foreign").await.0.as_deref(),
        Some("ignored")
    );
    // An id that is nobody's.
    stripe_event(
        &app,
        "evt_nobody",
        "checkout.session.completed",
        101,
        json!({"client_reference_id": "no-such-user", "customer": "cus_ghost"}),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_nobody").await.0.as_deref(),
        Some("ignored")
    );
    let store = &*app.state.store;
    for customer in ["cus_stranger", "cus_ghost"] {
        let link: Option<CustomerLink> =
            load(store, &keys::stripe_customer(customer)).await.unwrap();
        assert!(link.is_none(), "{customer} linked to someone");
    }
    let u = rampart_tests::stored_billing(&app.state, &uid).await;
    assert_eq!(
        (u.stripe_customer_id, u.stripe_subscription_id),
        (None, None)
    );

    // The same completion for the customer our checkout made for this user applies.
    our_customer(&app, "cus_ours", &uid).await;
    stripe_event(
        &app,
        "evt_ours",
        "checkout.session.completed",
        102,
        json!({"client_reference_id": uid, "customer": "cus_ours", "subscription": "sub_ours"}),
    )
    .await;
    assert_eq!(
        outcome(&app, "evt_ours").await.0.as_deref(),
        Some("applied")
    );
    let u = rampart_tests::stored_billing(&app.state, &uid).await;
    assert_eq!(u.stripe_customer_id.as_deref(), Some("cus_ours"));
    assert_eq!(u.stripe_subscription_id.as_deref(), Some("sub_ours"));
    app.shutdown().await;
}
