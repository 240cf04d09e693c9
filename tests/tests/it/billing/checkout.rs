//! Checkout: a normal user's request reaches Stripe (the stub) with the tier's price, the user
//! named in `client_reference_id` and the subscription metadata, and an idempotency key on every
//! create; an owner, listed by id or by email, gets 403 `owner-exempt` and Stripe hears nothing.

use rampart_platform::clock::SharedClock;
use rampart_store::Query;
use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::stub::{self, Stub};
use super::{PRO_PRICE, STARTER_PRICE, STRIPE_KEY, post, problem, sign_up, subscribe};

async fn app_on(stub: &Stub, extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![("STRIPE_API_BASE", stub.base.as_str())];
    pairs.extend_from_slice(extra);
    let clock: SharedClock = rampart_platform::clock::system();
    super::app(clock, &pairs).await
}

async fn checkout(app: &TestApp, token: &str, tier: &str, key: Option<&str>) -> reqwest::Response {
    post(
        app,
        "/billing/checkout-session",
        token,
        Some(json!({ "tier": tier })),
        key,
    )
    .await
}

#[tokio::test]
async fn a_checkout_reaches_stripe_with_the_tiers_price_the_user_and_an_idempotency_key() {
    let stub = stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    let app = app_on(&stub, &[]).await;
    let (uid, token) = sign_up(&app, "buyer@example.com").await;

    let r = checkout(&app, &token, "pro", Some("click-1")).await;
    assert_eq!(r.status(), 201);
    assert!(
        r.headers()["ratelimit"]
            .to_str()
            .unwrap()
            .contains("\"billing_checkout\";r=9")
    );
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cs_test_"));
    assert_eq!(
        body["url"],
        format!("https://checkout.stripe.com/c/pay/{id}")
    );

    let calls = stub.calls();
    let paths: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.method.as_str(), c.path.as_str()))
        .collect();
    let price_path = format!("/v1/prices/{PRO_PRICE}");
    assert_eq!(
        paths,
        [
            ("GET", price_path.as_str()),
            ("POST", "/v1/customers"),
            ("POST", "/v1/checkout/sessions")
        ]
    );
    for c in &calls {
        assert_eq!(c.stripe_version.as_deref(), Some("2024-06-20"), "pinned");
        assert_eq!(
            c.authorization.as_deref(),
            Some(format!("Bearer {STRIPE_KEY}").as_str())
        );
        if c.method == "POST" {
            assert!(c.idempotency_key.is_some(), "every create carries a key");
        }
    }
    let customer = &calls[1];
    assert_eq!(customer.field("email"), Some("buyer@example.com"));
    assert_eq!(customer.field("metadata[user_id]"), Some(uid.as_str()));
    assert_eq!(
        customer.idempotency_key.as_deref(),
        Some(format!("rampart-customer-{uid}").as_str()),
        "one customer per user, whatever races"
    );
    let session = &calls[2];
    assert_eq!(session.field("mode"), Some("subscription"));
    assert_eq!(session.field("line_items[0][price]"), Some(PRO_PRICE));
    assert_eq!(session.field("line_items[0][quantity]"), Some("1"));
    assert_eq!(session.field("client_reference_id"), Some(uid.as_str()));
    assert_eq!(
        session.field("subscription_data[metadata][user_id]"),
        Some(uid.as_str())
    );
    assert_eq!(
        session.field("success_url"),
        Some("https://app.example/billing/done")
    );
    assert_eq!(
        session.field("cancel_url"),
        Some("https://app.example/billing/back")
    );
    assert!(session.field("customer").unwrap().starts_with("cus_"));
    let session_key = session.idempotency_key.clone().unwrap();
    assert!(session_key.starts_with(&format!("rampart-checkout-{uid}-")));

    // The same click again: replayed by our Idempotency-Key, Stripe hears nothing more.
    let again = checkout(&app, &token, "pro", Some("click-1")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id.as_str());
    assert_eq!(stub.calls().len(), 3);

    // Another click: the stored customer is reused, a new session gets a new key.
    let r = checkout(&app, &token, "pro", Some("click-2")).await;
    assert_eq!(r.status(), 201);
    let calls = stub.calls();
    let creates: Vec<&str> = calls.iter().skip(3).map(|c| c.path.as_str()).collect();
    assert_eq!(creates, [price_path.as_str(), "/v1/checkout/sessions"]);
    assert_ne!(
        calls.last().unwrap().idempotency_key.as_deref(),
        Some(session_key.as_str())
    );
    app.shutdown().await;
}

#[tokio::test]
async fn owner_accounts_by_id_or_email_get_403_and_stripe_hears_nothing() {
    let stub = stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    // The ids are only known after sign-up: one app lists the owner by email, the other by id.
    let app = app_on(&stub, &[("OWNER_ACCOUNT_IDS", "Boss@Example.com")]).await;
    let (boss_id, boss) = sign_up(&app, "boss@example.com").await;
    let (status, ty, body) = problem(checkout(&app, &boss, "pro", None).await).await;
    assert_eq!(
        (status, ty.as_str()),
        (403, "urn:rampart:problem:owner-exempt")
    );
    assert_eq!(body["detail"], "Owner and test accounts are never charged.");
    // Even a body that would not validate: the owner rule comes first.
    let (status, ty, _) = problem(checkout(&app, &boss, "platinum", None).await).await;
    assert_eq!(
        (status, ty.as_str()),
        (403, "urn:rampart:problem:owner-exempt")
    );
    let audit = app
        .state
        .store
        .query(Query::table(format!("audit#{boss_id}")))
        .await
        .unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|i| i.s("kind") == Some("owner_exempt"))
    );
    app.shutdown().await;

    // Listed by id: the same store and secrets, restarted with the tester's id in the list.
    let first = app_on(&stub, &[]).await;
    let (uid, token) = sign_up(&first, "tester@example.com").await;
    let mut state = first.state.clone();
    first.shutdown().await;
    let mut settings = (*state.settings).clone();
    settings.owner_account_ids = vec!["someone-else".into(), uid.to_lowercase()];
    state.settings = std::sync::Arc::new(settings);
    let app = rampart_tests::spawn_app_with(state).await;
    let (status, ty, _) = problem(checkout(&app, &token, "pro", None).await).await;
    assert_eq!(
        (status, ty.as_str()),
        (403, "urn:rampart:problem:owner-exempt")
    );
    app.shutdown().await;
    assert!(
        stub.calls().is_empty(),
        "no call reached Stripe: {:?}",
        stub.calls()
    );
}

#[tokio::test]
async fn bad_tiers_are_422_and_a_second_subscription_is_409() {
    let stub = stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    stub.price(STARTER_PRICE, false, true);
    let app = app_on(&stub, &[]).await;
    let (uid, token) = sign_up(&app, "picky@example.com").await;
    for tier in ["platinum", "free", "enterprise"] {
        let (status, _, body) = problem(checkout(&app, &token, tier, None).await).await;
        assert_eq!(status, 422, "{tier}");
        assert_eq!(body["errors"][0]["pointer"], "/tier");
    }
    // A configured price Stripe says is inactive: our configuration, never charged.
    let r = checkout(&app, &token, "starter", None).await;
    assert_eq!(r.status(), 503);
    subscribe(&app, &uid, PRO_PRICE, "sub_picky").await;
    let (status, _, body) = problem(checkout(&app, &token, "pro", None).await).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("already on the pro tier")
    );
    let (status, _, _) = problem(checkout(&app, &token, "starter", None).await).await;
    assert_eq!(
        status, 409,
        "a second running subscription would bill twice"
    );
    app.shutdown().await;
}
