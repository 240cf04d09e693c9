//! Owner accounts (`OWNER_ACCOUNT_IDS`) use the product on `OWNER_TIER`'s entitlements (the top
//! tier unless told) with its quota, and no charge path exists for them: every billing and
//! payment route, an operator's customer link, and provider events naming them leave the Stripe
//! stub with zero calls. On both backends.

use rampart_tests::ADMIN_TOKEN;
use serde_json::{Value, json};

use super::StubFx as Fx;
use super::{PRO_PRICE, get, post, sign_up, stripe_event};

const OWNER: &str = "owner@example.com";

async fn embedded() -> Option<Fx> {
    super::with_stub(false, &[("OWNER_ACCOUNT_IDS", OWNER)]).await
}

async fn dynamo() -> Option<Fx> {
    super::with_stub(true, &[("OWNER_ACCOUNT_IDS", OWNER)]).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    an_owner_holds_the_top_tier_with_its_quota_while_others_stay_on_their_plan,
    no_route_and_no_event_ever_makes_a_stripe_call_for_an_owner,
);

async fn an_owner_holds_the_top_tier_with_its_quota_while_others_stay_on_their_plan(fx: Fx) {
    let app = &fx.app;
    let (_, owner) = sign_up(app, OWNER).await;
    let (_, other) = sign_up(app, "someone@example.com").await;
    let r = get(app, "/billing/entitlements", &owner).await;
    assert!(
        r.headers().get("ratelimit-policy").is_none(),
        "an unlimited tier carries no quota fields"
    );
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["tier"], "enterprise");
    assert_eq!(e["limits"]["api_calls_per_day"], Value::Null, "unlimited");
    assert_eq!(e["usage"]["api_calls_per_day"], 1, "counted all the same");
    let e: Value = get(app, "/billing/entitlements", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["tier"], "free");
    fx.app.shutdown().await;

    // OWNER_TIER names another tier: its limits and its daily quota.
    let Fx { app, .. } = super::with_stub(
        false,
        &[("OWNER_ACCOUNT_IDS", OWNER), ("OWNER_TIER", "pro")],
    )
    .await
    .unwrap();
    let (_, owner) = sign_up(&app, OWNER).await;
    let r = get(&app, "/billing/usage", &owner).await;
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["tier"], "pro");
    assert_eq!(u["api_calls"]["limit"], 10_000);
    let r = get(&app, "/billing/entitlements", &owner).await;
    assert_eq!(
        r.headers()["ratelimit-policy"].to_str().unwrap(),
        "\"quota\";q=10000;w=86400"
    );
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["limits"]["private_repos"], 50);
    let sub: Value = get(&app, "/billing/subscription", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sub["subscription_status"], "none",
        "held without any subscription"
    );
    app.shutdown().await;
}

async fn no_route_and_no_event_ever_makes_a_stripe_call_for_an_owner(fx: Fx) {
    let app = &fx.app;
    let (uid, token) = sign_up(app, OWNER).await;
    let tier = || Some(json!({"tier": "pro"}));
    let expect = [
        ("/billing/checkout-session", tier(), 403),
        ("/billing/subscription/change", tier(), 403),
        ("/billing/portal-session", None, 403),
        ("/billing/cancel", None, 409),
        ("/billing/resume", None, 409),
    ];
    for (path, body, status) in expect {
        let r = post(app, path, &token, body, Some("owner-try")).await;
        assert_eq!(r.status(), status, "{path}: {:?}", r.text().await);
    }
    // An operator cannot give the owner a Stripe customer either.
    let r = app
        .client
        .post(app.url("/admin/billing/customer-links"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"user_id": uid, "customer_id": "cus_someone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Paying for an order with Stripe.
    let r = post(
        app,
        "/orders",
        &token,
        Some(json!({"sku": "eu-1gb-7d", "quantity": 1})),
        Some("owner-order"),
    )
    .await;
    assert_eq!(r.status(), 201);
    let order: Value = r.json().await.unwrap();
    let r = post(
        app,
        "/payments",
        &token,
        Some(json!({"order_id": order["id"], "provider": "stripe"})),
        Some("owner-pay"),
    )
    .await;
    assert_eq!(r.status(), 403);
    // The rights of access and erasure look for a Stripe customer the owner never has.
    assert_eq!(get(app, "/account/export", &token).await.status(), 200);
    // Stripe's events naming the owner change nothing and call nothing.
    let now = app.state.clock.now_secs();
    let sub = json!({"id": "sub_owner", "customer": "cus_owner", "status": "active",
        "metadata": {"user_id": uid},
        "items": {"data": [{"price": {"id": PRO_PRICE}, "current_period_end": now + 86_400}]}});
    let r = stripe_event(app, "customer.subscription.created", now, sub).await;
    assert_eq!(r["outcome"], "owner_blocked");

    assert!(
        fx.stub.calls().is_empty(),
        "zero calls reached Stripe: {:?}",
        fx.stub.calls()
    );
    let e: Value = get(app, "/billing/entitlements", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        e["tier"], "enterprise",
        "still the owner tier, never a Stripe plan"
    );
    fx.app.shutdown().await;
}
