//! A running subscription changes tier through Stripe's subscription update (the one item moved
//! to the new price, `proration_behavior=create_prorations`), and the plan moves only when
//! Stripe's `customer.subscription.updated` confirms it; a checkout while a subscription runs is
//! 409 naming the change route. The Billing Portal opens for the user's own customer and returns
//! to the app's billing page. Checkout's return pages answer when no URLs are configured, and
//! production refuses to start without the app's own https pages. Against the Stripe stub
//! (subscription update, portal sessions), on both backends where state is stored.

use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::StubFx as Fx;
use super::recovery::{checked_out, subscription};
use super::stub::Stub;
use super::{PRO_PRICE, STARTER_PRICE, get, post, problem, sign_up, stripe_event};

const BILLING_PAGE: &str = "https://app.example/account/billing";

async fn embedded() -> Option<Fx> {
    super::with_stub(false, &[("BILLING_PAGE_URL", BILLING_PAGE)]).await
}

async fn dynamo() -> Option<Fx> {
    super::with_stub(true, &[("BILLING_PAGE_URL", BILLING_PAGE)]).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    a_running_subscription_changes_tier_only_once_stripe_confirms_the_update,
    the_billing_portal_opens_for_the_users_own_customer_and_returns_to_the_billing_page,
);

async fn change(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> reqwest::Response {
    post(app, "/billing/subscription/change", token, Some(body), key).await
}

async fn plan(app: &TestApp, token: &str) -> String {
    let v: Value = get(app, "/billing/subscription", token)
        .await
        .json()
        .await
        .unwrap();
    v["plan"].as_str().unwrap().into()
}

async fn a_running_subscription_changes_tier_only_once_stripe_confirms_the_update(fx: Fx) {
    let app = &fx.app;
    let (uid, token) = sign_up(app, "upgrader@example.com").await;
    // Nothing runs yet: the change route points at checkout.
    let (status, _, body) =
        problem(change(app, &token, json!({"tier": "starter"}), None).await).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/billing/checkout-session")
    );

    let customer = checked_out(app, &fx.stub, &token).await;
    let t = app.state.clock.now_secs();
    fx.stub
        .subscription("sub_change", &customer, PRO_PRICE, t + 30 * 86_400);
    let created = subscription("sub_change", &customer, &uid, PRO_PRICE, t);
    let r = stripe_event(app, "customer.subscription.created", t, created).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(plan(app, &token).await, "pro");

    // A second checkout would bill twice: 409, naming the change route.
    let r = post(
        app,
        "/billing/checkout-session",
        &token,
        Some(json!({"tier": "starter"})),
        None,
    )
    .await;
    let (status, _, body) = problem(r).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("POST /billing/subscription/change"),
        "{body}"
    );

    let (status, _, body) = problem(change(app, &token, json!({"tier": "gold"}), None).await).await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["pointer"], "/tier");
    let r = change(app, &token, json!({"tier": "starter", "when": "now"}), None).await;
    assert_eq!(r.status(), 422);
    let (status, _, _) = problem(change(app, &token, json!({"tier": "pro"}), None).await).await;
    assert_eq!(status, 409, "already on pro");
    let updates = |stub: &Stub| {
        stub.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path == "/v1/subscriptions/sub_change")
            .collect::<Vec<_>>()
    };
    assert!(
        updates(&fx.stub).is_empty(),
        "refusals reach no Stripe update"
    );

    let r = change(app, &token, json!({"tier": "starter"}), Some("down-1")).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["plan"], "pro", "not until Stripe confirms");
    assert_eq!(body["requested_tier"], "starter");
    assert_eq!(body["proration_behavior"], "create_prorations");
    let sent = updates(&fx.stub);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].field("items[0][id]"), Some("si_sub_change"));
    assert_eq!(sent[0].field("items[0][price]"), Some(STARTER_PRICE));
    assert_eq!(
        sent[0].field("proration_behavior"),
        Some("create_prorations")
    );
    assert!(
        sent[0]
            .idempotency_key
            .as_deref()
            .unwrap()
            .starts_with("rampart-change-")
    );
    assert_eq!(plan(app, &token).await, "pro");

    // Stripe confirms: the plan moves.
    let now = fx.stub.subscription_now("sub_change").unwrap();
    let r = stripe_event(app, "customer.subscription.updated", t + 1, now).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(plan(app, &token).await, "starter");
    let (status, _, _) = problem(change(app, &token, json!({"tier": "starter"}), None).await).await;
    assert_eq!(status, 409, "already on starter");

    // Canceled at the period's end, it still runs: a checkout is still refused.
    assert_eq!(
        post(app, "/billing/cancel", &token, None, None)
            .await
            .status(),
        202
    );
    let r = post(
        app,
        "/billing/checkout-session",
        &token,
        Some(json!({"tier": "pro"})),
        None,
    )
    .await;
    let (status, _, body) = problem(r).await;
    assert_eq!(status, 409);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("POST /billing/subscription/change"),
        "{body}"
    );
    fx.app.shutdown().await;
}

async fn the_billing_portal_opens_for_the_users_own_customer_and_returns_to_the_billing_page(
    fx: Fx,
) {
    let app = &fx.app;
    let (_, token) = sign_up(app, "card-update@example.com").await;
    let (status, _, body) =
        problem(post(app, "/billing/portal-session", &token, None, None).await).await;
    assert_eq!(status, 409, "no customer yet: {body}");
    assert!(
        fx.stub
            .calls()
            .iter()
            .all(|c| !c.path.contains("billing_portal"))
    );

    let customer = checked_out(app, &fx.stub, &token).await;
    let r = post(app, "/billing/portal-session", &token, None, None).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("bps_"));
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .starts_with("https://billing.stripe.com/p/session/")
    );
    let calls = fx.stub.calls();
    let call = calls
        .iter()
        .find(|c| c.path == "/v1/billing_portal/sessions")
        .unwrap();
    assert_eq!(call.field("customer"), Some(customer.as_str()));
    assert_eq!(call.field("return_url"), Some(BILLING_PAGE));
    assert!(call.idempotency_key.is_some());
    fx.app.shutdown().await;
}

#[tokio::test]
async fn without_configured_urls_checkout_returns_the_user_to_pages_that_answer() {
    let stub = super::stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    let prices = format!("pro={PRO_PRICE}");
    let pairs = [
        ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ("STRIPE_PRICES", prices.as_str()),
        ("STRIPE_API_BASE", stub.base.as_str()),
    ];
    let clock = rampart_platform::clock::system();
    let mut state = super::state(clock.clone(), &[]).await;
    state.settings = std::sync::Arc::new(rampart_tests::settings(&pairs));
    let app = rampart_tests::spawn_app_with(state).await;
    let (_, token) = sign_up(&app, "returning@example.com").await;
    checked_out(&app, &stub, &token).await;
    let calls = stub.calls();
    let session = calls
        .iter()
        .find(|c| c.path == "/v1/checkout/sessions")
        .unwrap();
    for (field, title) in [
        ("success_url", "Payment received"),
        ("cancel_url", "Checkout canceled"),
    ] {
        let url = session.field(field).unwrap();
        let path = url.strip_prefix("http://127.0.0.1:3000").unwrap_or(url);
        assert!(path.starts_with("/billing/checkout/"), "{field}: {url}");
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(r.text().await.unwrap().contains(title));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn production_refuses_to_start_billing_without_the_apps_https_return_pages() {
    let clock = rampart_platform::clock::system();
    let start = |pairs: &[(&str, &str)]| {
        let state = rampart_tests::embedded_state(rampart_tests::settings(pairs), clock.clone());
        billing_api::check_production(&state).map_err(|e| e.0)
    };
    let unset = start(&[("APP_ENV", "production")]).unwrap_err();
    assert!(unset.contains("CHECKOUT_SUCCESS_URL"), "{unset}");
    let http = start(&[
        ("APP_ENV", "production"),
        ("CHECKOUT_SUCCESS_URL", "https://app.example/done"),
        ("CHECKOUT_CANCEL_URL", "http://app.example/back"),
    ])
    .unwrap_err();
    assert!(http.contains("CHECKOUT_CANCEL_URL"), "{http}");
    start(&[
        ("APP_ENV", "production"),
        ("CHECKOUT_SUCCESS_URL", "https://app.example/done"),
        ("CHECKOUT_CANCEL_URL", "https://app.example/back"),
    ])
    .expect("the app's own https pages start");
}
