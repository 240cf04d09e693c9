//! Address verification: registration mails a code, verify-email marks the address verified
//! and keeps the password; an email-code sign-in on an unverified account still takes it back,
//! but says so (`password_removed`, and a mail), and leaves no billing state behind.

use rampart_auth::User;
use rampart_billing::link::CustomerLink;
use rampart_store::{Query, Update, keys};
use serde_json::{Value, json};

use super::{
    Fx, PASSWORD_REMOVED_MAIL, PW, app_with, login_body, mails_about, me_bearer, newest_mail, post,
    register, sign_in_code, verification_code,
};

super::on_both_backends!(
    verify_email_keeps_the_password,
    code_login_on_an_unverified_account_says_password_removed,
);

async fn verify(app: &rampart_tests::TestApp, email: &str, code: &str) -> (u16, Value) {
    let r = post(
        app,
        "/auth/verify-email",
        json!({"email": email, "code": code}),
        "198.51.100.50",
    )
    .await;
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn code_sign_in(app: &rampart_tests::TestApp, email: &str) -> (u16, Value) {
    post(
        app,
        "/auth/otp/request",
        json!({"email": email}),
        "198.51.100.51",
    )
    .await;
    let code = sign_in_code(app, email).await;
    let r = post(
        app,
        "/auth/otp/verify",
        json!({"email": email, "code": code, "delivery": "body"}),
        "198.51.100.51",
    )
    .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn email_verified(app: &rampart_tests::TestApp, email: &str) -> bool {
    let (access, _) = login_body(app, email, "198.51.100.52").await;
    let me: Value = me_bearer(app, &access).await.json().await.unwrap();
    me["email_verified"].as_bool().unwrap()
}

async fn verify_email_keeps_the_password((app, _): Fx) {
    let email = "ana@example.com";
    register(&app, email).await;
    let code = verification_code(&app, email).await;
    assert!(!email_verified(&app, email).await);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    assert_eq!(verify(&app, email, wrong).await.0, 401);
    let (status, body) = verify(&app, email, &code).await;
    assert_eq!(status, 200);
    assert_eq!(body["email_verified"], true);
    assert_eq!(verify(&app, email, &code).await.0, 401, "single use");
    assert!(
        email_verified(&app, email).await,
        "verified, and the password still signs in"
    );
    let (status, body) = code_sign_in(&app, email).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["password_removed"], false,
        "a verified account is not taken back"
    );
    assert_eq!(
        post(
            &app,
            "/auth/login",
            json!({"email": email, "password": PW}),
            "198.51.100.53"
        )
        .await
        .status(),
        200
    );
    assert!(
        mails_about(&app, email, PASSWORD_REMOVED_MAIL)
            .await
            .is_empty()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_verification_code_burns_after_five_wrong_guesses() {
    let (app, _) = app_with(&[]).await;
    let email = "bea@example.com";
    register(&app, email).await;
    let code = verification_code(&app, email).await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        assert_eq!(verify(&app, email, wrong).await.0, 401);
    }
    assert_eq!(verify(&app, email, &code).await.0, 401, "burned");
    assert_eq!(
        verify(&app, "nobody@example.com", &code).await.0,
        401,
        "the same answer without an account"
    );
    app.shutdown().await;
}

/// Today the first code sign-in of an unverified account removed its password without a word.
/// The takeback stays (it defends against accounts registered with someone else's address),
/// but the user is told, and the previous holder's billing goes with it.
async fn code_login_on_an_unverified_account_says_password_removed((app, _): Fx) {
    let email = "cleo@example.com";
    let user = register(&app, email).await;
    let user_id = user["id"].as_str().unwrap();
    // Whoever registered the address checked out a subscription before its owner came along.
    let (pk, sk) = keys::user(user_id);
    // Billing's attributes, seeded as billing stores them (their names are private to billing).
    let billing = Update::new()
        .set("plan", "pro")
        .set("subscription_status", "active")
        .set("stripe_customer_id", "cus_squatter")
        .set("stripe_subscription_id", "sub_squatter");
    app.state
        .store
        .update(&pk, &sk, billing, None)
        .await
        .unwrap();
    let link = CustomerLink {
        customer_id: "cus_squatter".into(),
        user_id: user_id.into(),
    };
    app.state.store.put((&link).into(), None).await.unwrap();

    let (status, body) = code_sign_in(&app, email).await;
    assert_eq!(status, 200);
    assert_eq!(body["password_removed"], true);
    let mail = newest_mail(&app, email, PASSWORD_REMOVED_MAIL).await;
    let text = mail["body"].as_str().unwrap();
    assert!(
        text.contains("/auth/password/forgot"),
        "says how to set one: {text}"
    );
    let me: Value = me_bearer(&app, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["plan"], "free", "the user lands on free");
    assert_eq!(me["subscription_status"], "none");
    let stored: User = rampart_store::load(&*app.state.store, &keys::user(user_id))
        .await
        .unwrap()
        .unwrap();
    let billing = rampart_tests::stored_billing(&app.state, user_id).await;
    assert_eq!(billing.stripe_customer_id, None);
    assert_eq!(billing.stripe_subscription_id, None);
    assert_eq!(stored.password_hash, None);
    let (lpk, lsk) = keys::stripe_customer("cus_squatter");
    assert!(
        app.state.store.get(&lpk, &lsk).await.unwrap().is_none(),
        "the customer no longer leads to this account"
    );
    let audit = app
        .state
        .store
        .query(Query::table(format!("audit#{user_id}")))
        .await
        .unwrap();
    let kinds: Vec<String> = audit
        .items
        .iter()
        .map(|i| rampart_http::audit::AuditEvent::try_from(i).unwrap().kind)
        .collect();
    for k in ["account_taken_back", "billing_unlinked"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    let r = post(
        &app,
        "/auth/login",
        json!({"email": email, "password": PW}),
        "198.51.100.54",
    )
    .await;
    assert_eq!(r.status(), 401, "the registered password is gone");

    // The previous holder's subscription renews: its event names this user in its metadata,
    // but it is no longer this account's subscription.
    let now = app.state.clock.now_secs();
    let renewal = json!({
        "id": "sub_squatter",
        "object": "subscription",
        "customer": "cus_squatter",
        "status": "active",
        "metadata": {"user_id": user_id},
        "cancel_at_period_end": false,
        "items": {"data": [{"price": {"id": "price_pro"}, "current_period_end": now + 30 * 86_400}]},
    });
    let r = crate::billing::stripe_event(&app, "customer.subscription.updated", now + 60, renewal)
        .await;
    assert_eq!(r["outcome"], "superseded");
    let me: Value = me_bearer(&app, body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["plan"], "free",
        "the squatter's renewal does not reach the owner"
    );
    app.shutdown().await;
}
