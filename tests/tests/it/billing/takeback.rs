//! After the owner of an address takes back an account someone else registered with it (an
//! email-code sign-in, or a password reset, of the unverified account), nothing that holder
//! attached at Stripe (their customer, subscriptions, checkout sessions) changes the owner's
//! plan, and the owner's next checkout gets a new Stripe customer. The reset of a verified
//! account leaves its owner's billing alone. Against the Stripe stub (which replays a create by
//! its idempotency key, as Stripe does), on both backends.

use rampart_auth::User;
use rampart_billing::account::BillingAccount;
use rampart_platform::clock::SharedClock;
use rampart_store::keys;
use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::stub::{self, Stub};
use super::{PRO_PRICE, get, post, sign_up, stripe_event, subscribe};

pub struct Fx {
    app: TestApp,
    stub: Stub,
}

async fn fx(dynamo: bool) -> Option<Fx> {
    let stub = stub::start(None).await;
    stub.price(PRO_PRICE, true, true);
    let pairs = [("STRIPE_API_BASE", stub.base.as_str())];
    let clock: SharedClock = rampart_platform::clock::system();
    let app = if dynamo {
        super::dynamo_app(clock, &pairs).await?
    } else {
        super::app(clock, &pairs).await
    };
    Some(Fx { app, stub })
}

async fn embedded() -> Option<Fx> {
    fx(false).await
}

async fn dynamo() -> Option<Fx> {
    fx(true).await
}

rampart_tests::on_backends!(super::embedded, super::dynamo;
    after_a_take_back_nothing_the_previous_holder_attached_changes_the_owners_plan,
    after_the_reset_of_an_unverified_account_the_previous_holders_billing_is_gone,
    the_reset_of_a_verified_account_keeps_its_owners_subscription,
);

const ATTACKER_SUB: &str = "sub_previous_holder";

fn ip() -> String {
    let b = rampart_platform::crypto::random_bytes(2);
    format!("10.19.{}.{}", b[0] % 250 + 1, b[1] % 250 + 1)
}

async fn post_anon(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-forwarded-for", ip())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The body of the newest mail to `to` whose subject starts with `subject`.
async fn newest_mail(app: &TestApp, to: &str, subject: &str) -> Option<String> {
    let mails: Value = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mails
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["subject"].as_str().unwrap().starts_with(subject))
        .map(|m| m["body"].as_str().unwrap().to_string())
}

async fn stored(app: &TestApp, uid: &str) -> BillingAccount {
    rampart_tests::stored_billing(&app.state, uid).await
}

/// The Idempotency-Keys of every customer Stripe was asked to create.
fn customer_creates(stub: &Stub) -> Vec<String> {
    stub.calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path == "/v1/customers")
        .map(|c| c.idempotency_key.clone().unwrap_or_default())
        .collect()
}

fn subscription(id: &str, customer: &str, uid: &str, now: i64) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": "active",
        "metadata": {"user_id": uid},
        "cancel_at_period_end": false,
        "items": {"data": [{"price": {"id": PRO_PRICE}, "current_period_end": now + 30 * 86_400}]},
    })
}

/// Someone registers `email` (never verifying it) and subscribes to pro through our checkout:
/// (user id, the Stripe customer our API created for them).
async fn previous_holder_subscribes(fx: &Fx, email: &str) -> (String, String) {
    let app = &fx.app;
    let (uid, token) = sign_up(app, email).await;
    let r = post(
        app,
        "/billing/checkout-session",
        &token,
        Some(json!({"tier": "pro"})),
        Some("holder-click"),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let customer = stored(app, &uid).await.stripe_customer_id.unwrap();
    let now = app.state.clock.now_secs();
    let sub = subscription(ATTACKER_SUB, &customer, &uid, now);
    let r = stripe_event(app, "customer.subscription.created", now, sub).await;
    assert_eq!(r["outcome"], "applied");
    assert_eq!(stored(app, &uid).await.plan, "pro");
    (uid, customer)
}

/// Events about the previous holder's Stripe objects, after the owner took the account over:
/// none may change the plan, and no dunning mail reaches the owner.
async fn previous_holders_events_change_nothing(
    app: &TestApp,
    uid: &str,
    customer: &str,
    email: &str,
) {
    let now = app.state.clock.now_secs();
    let events = [
        (
            "customer.subscription.created",
            subscription("sub_previous_holder_2", customer, uid, now),
        ),
        (
            "customer.subscription.updated",
            subscription(ATTACKER_SUB, customer, uid, now),
        ),
        (
            "invoice.payment_failed",
            json!({"id": "in_prev", "object": "invoice", "customer": customer, "status": "open",
                   "subscription": ATTACKER_SUB, "metadata": {"user_id": uid}}),
        ),
        (
            "checkout.session.completed",
            json!({"id": "cs_prev", "object": "checkout.session", "customer": customer,
                   "client_reference_id": uid, "subscription": "sub_previous_holder_3"}),
        ),
    ];
    for (i, (ty, object)) in events.into_iter().enumerate() {
        let r = stripe_event(app, ty, now + 10 + i as i64, object).await;
        assert_ne!(r["outcome"], "applied", "{ty}: {r}");
        let u = stored(app, uid).await;
        assert_eq!(
            (u.plan.as_str(), u.subscription_status.as_str()),
            ("free", "none"),
            "after {ty}"
        );
        assert_eq!(u.stripe_customer_id, None, "after {ty}");
    }
    assert!(
        newest_mail(app, email, "Your payment did not go through")
            .await
            .is_none(),
        "the owner is not dunned for the previous holder's card"
    );
}

/// The owner's first checkout: a new Stripe customer (a new idempotency key), whose
/// subscription then does reach the account.
async fn owners_checkout_gets_a_new_customer(fx: &Fx, uid: &str, token: &str, previous: &str) {
    let app = &fx.app;
    let before = customer_creates(&fx.stub);
    let r = post(
        app,
        "/billing/checkout-session",
        token,
        Some(json!({"tier": "pro"})),
        Some("owner-click"),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let after = customer_creates(&fx.stub);
    assert_eq!(after.len(), before.len() + 1, "a customer was created");
    let new_key = after.last().unwrap();
    assert!(
        !before.contains(new_key),
        "a new idempotency key, not the previous holder's: {new_key} in {before:?}"
    );
    let owners = stored(app, uid).await.stripe_customer_id.unwrap();
    assert_ne!(owners, previous, "a new Stripe customer");

    let now = app.state.clock.now_secs();
    let sub = subscription("sub_owner", &owners, uid, now + 100);
    let r = stripe_event(app, "customer.subscription.created", now + 100, sub).await;
    assert_eq!(
        r["outcome"], "applied",
        "the owner's own subscription applies"
    );
    let view: Value = get(app, "/billing/subscription", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["plan"], "pro", "{view}");
}

async fn after_a_take_back_nothing_the_previous_holder_attached_changes_the_owners_plan(fx: Fx) {
    let app = &fx.app;
    let email = "founder@example.com";
    let (uid, customer) = previous_holder_subscribes(&fx, email).await;

    // The owner of the address signs in with a code: the account is taken back.
    let r = post_anon(app, "/auth/otp/request", json!({"email": email})).await;
    assert_eq!(r.status(), 202);
    let body = newest_mail(app, email, "Your sign-in code").await.unwrap();
    let code: String = body
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .into();
    let r = post_anon(
        app,
        "/auth/otp/verify",
        json!({"email": email, "code": code, "delivery": "body"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["password_removed"], true);
    let token = v["access_token"].as_str().unwrap().to_string();

    previous_holders_events_change_nothing(app, &uid, &customer, email).await;
    owners_checkout_gets_a_new_customer(&fx, &uid, &token, &customer).await;
    fx.app.shutdown().await;
}

async fn after_the_reset_of_an_unverified_account_the_previous_holders_billing_is_gone(fx: Fx) {
    let app = &fx.app;
    let email = "owner.resets@example.com";
    let (uid, customer) = previous_holder_subscribes(&fx, email).await;

    // The owner of the address resets the password with the mailed link.
    let r = post_anon(app, "/auth/password/forgot", json!({"email": email})).await;
    assert_eq!(r.status(), 202);
    let body = newest_mail(app, email, "Reset your password")
        .await
        .unwrap();
    let token = body
        .split(": ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let new_pw = "the owner's own passphrase";
    let r = post_anon(
        app,
        "/auth/password/reset",
        json!({"token": token, "new_password": new_pw}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = post_anon(
        app,
        "/auth/login",
        json!({"email": email, "password": new_pw, "delivery": "body"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let access = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: Value = get(app, "/auth/me", &access).await.json().await.unwrap();
    assert_eq!(
        me["email_verified"], true,
        "the mailed link proved the mailbox"
    );
    assert_eq!(
        me["plan"], "free",
        "the previous holder's plan went with them"
    );

    previous_holders_events_change_nothing(app, &uid, &customer, email).await;
    owners_checkout_gets_a_new_customer(&fx, &uid, &access, &customer).await;
    fx.app.shutdown().await;
}

async fn the_reset_of_a_verified_account_keeps_its_owners_subscription(fx: Fx) {
    let app = &fx.app;
    let email = "verified.payer@example.com";
    let (uid, _) = sign_up(app, email).await;
    let (pk, sk) = keys::user(&uid);
    let verified = rampart_store::Update::new().set(User::EMAIL_VERIFIED, true);
    app.state
        .store
        .update(&pk, &sk, verified, None)
        .await
        .unwrap();
    subscribe(app, &uid, PRO_PRICE, "sub_verified").await;

    let r = post_anon(app, "/auth/password/forgot", json!({"email": email})).await;
    assert_eq!(r.status(), 202);
    let body = newest_mail(app, email, "Reset your password")
        .await
        .unwrap();
    let token = body
        .split(": ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let r = post_anon(
        app,
        "/auth/password/reset",
        json!({"token": token, "new_password": "a remembered passphrase"}),
    )
    .await;
    assert_eq!(r.status(), 204);

    let u = stored(app, &uid).await;
    assert_eq!(
        (u.plan.as_str(), u.subscription_status.as_str()),
        ("pro", "active")
    );
    let now = app.state.clock.now_secs();
    let renewal = subscription("sub_verified", &format!("cus_for_{uid}"), &uid, now + 30);
    let r = stripe_event(app, "customer.subscription.updated", now + 30, renewal).await;
    assert_eq!(r["outcome"], "applied", "its renewals still apply");
    fx.app.shutdown().await;
}
