//! `POST /account/delete` as a client sees it: every token dead at once; afterwards the address
//! behaves as an unknown one and may register again, empty; financial records stay under the
//! tombstone id without PII; the operator sees the erasure; a repeat answers the same erasure;
//! a wrong password or confirmation changes nothing.

use rampart_gdpr::record::Erasure;
use rampart_store::keys;
use serde_json::{Value, json};

use super::{
    Fx, PW, admin_view, delete_account, dynamo_fx, embedded_fx, get_as, login, mentions, partition,
    post_json, seed,
};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    an_erased_account_is_gone_at_once_and_its_finance_records_stay_without_pii,
    a_typo_or_a_wrong_password_does_not_spend_the_hourly_erasure_budget,
);

/// What a refused sign-in tells the client: status, problem type and detail.
async fn problem(r: reqwest::Response) -> (u16, Value, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["type"].clone(), body["detail"].clone())
}

async fn an_erased_account_is_gone_at_once_and_its_finance_records_stay_without_pii(fx: Fx) {
    let app = &fx.app;
    let u = seed(&fx, "erase.me@example.com").await;
    let (token2, refresh2) = login(app, &u.email).await.unwrap();

    let r = delete_account(app, &u.token, PW).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let id = body["erasure_id"].as_str().unwrap().to_string();
    assert_eq!(body["status"], "erased", "{body}");

    // Every token of every session is dead at once.
    for t in [&u.token, &token2] {
        assert_eq!(get_as(app, "/auth/me", t).await.status(), 401);
        assert_eq!(get_as(app, "/account/export", t).await.status(), 401);
    }
    for rt in [&u.refresh, &refresh2] {
        let r = post_json(app, "/auth/refresh", None, json!({"refresh_token": rt})).await;
        assert_eq!(r.status(), 401);
    }
    // Sign-in and reset answer exactly as for an address nobody registered.
    let erased = problem(login(app, &u.email).await.unwrap_err()).await;
    let unknown = problem(
        login(app, "never.registered@example.com")
            .await
            .unwrap_err(),
    )
    .await;
    assert_eq!(erased, unknown);
    let forgot = |email: &'static str| {
        post_json(app, "/auth/password/forgot", None, json!({"email": email}))
    };
    assert_eq!(
        forgot("erase.me@example.com").await.status(),
        forgot("never.registered@example.com").await.status()
    );

    // The same request again (its answer lost) gets the same erasure.
    let again = delete_account(app, &u.token, PW).await;
    assert_eq!(again.status(), 202);
    assert_eq!(
        again.json::<Value>().await.unwrap()["erasure_id"],
        id.as_str()
    );

    let view = admin_view(app, &id).await;
    assert_eq!(view["status"], "erased");
    assert_eq!(view["steps_pending"], json!([]));
    assert!(view["items_erased"].as_i64().unwrap() > 0);
    assert!(view["items_anonymised"].as_i64().unwrap() >= 2, "{view}");
    let shown = view.to_string();
    assert!(
        !shown.contains(&u.id) && !shown.contains(&u.email),
        "{shown}"
    );
    let tomb = view["tombstone_id"].as_str().unwrap().to_string();

    // Nothing is left under the user; orders and payments are kept under the tombstone.
    assert!(partition(app, &keys::user(&u.id).0).await.is_empty());
    assert!(
        partition(app, &keys::audit(&u.id, 0, "").0)
            .await
            .is_empty()
    );
    let pii = [u.id.as_str(), u.email.as_str()];
    let kept = partition(app, &keys::user(&tomb).0).await;
    let kinds: Vec<&str> = kept.iter().filter_map(|i| i.s("type")).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "order").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "payment").count(),
        1,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"esim"), "eSIM profiles are deleted");
    for item in &kept {
        assert!(!mentions(item, &pii), "PII left in {item:?}");
    }
    let order = app
        .state
        .store
        .get(
            &keys::order(&tomb, &u.order_id).0,
            &keys::order(&tomb, &u.order_id).1,
        )
        .await
        .unwrap();
    assert!(order.is_some(), "the order is kept under the tombstone id");
    // The audit trail: the user's events under the tombstone, without IPs, and the erasure.
    let audit = partition(app, &keys::audit(&tomb, 0, "").0).await;
    assert!(
        audit
            .iter()
            .all(|e| e.get("ip_hash").is_none() && !mentions(e, &pii))
    );
    assert!(audit.iter().any(|e| e.s("kind") == Some("account_erased")));
    let record: Erasure = rampart_store::load(&*app.state.store, &keys::erasure(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.user_id, None, "the tombstone names no user");

    // The customer instance with the same address is the company's: its record and keys stay
    // as they were (`customer`: the same for a verified contact).
    let r = app
        .client
        .get(app.url(&format!("/admin/customers/{}", u.customer_instance)))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .header("x-forwarded-for", super::some_ip())
        .send()
        .await
        .unwrap();
    let c: Value = r.json().await.unwrap();
    assert!(
        c["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["status"] == "active"),
        "{c}"
    );

    // The address registers again: a new, empty account.
    let r = post_json(
        app,
        "/auth/register",
        None,
        json!({"email": u.email, "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let new_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_id, u.id);
    let (fresh, _) = login(app, &u.email).await.unwrap();
    let doc: Value = get_as(app, "/account/export", &fresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["profile"]["id"], new_id.as_str());
    for section in ["orders", "payments", "esims", "idempotency_records"] {
        assert_eq!(doc[section], json!([]), "{section}: {}", doc[section]);
    }
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
    assert!(doc["billing"]["stripe_customer_id"].is_null());
    let events: Vec<&str> = doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        !events.contains(&"login_failure"),
        "the old account's events: {events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_password_is_403_counts_against_sign_in_and_erases_nothing() {
    let fx = embedded_fx().await.unwrap();
    let app = &fx.app;
    let r = post_json(
        app,
        "/auth/register",
        None,
        json!({"email": "careful@example.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let (token, _) = login(app, "careful@example.com").await.unwrap();

    let r = post_json(
        app,
        "/account/delete",
        Some(&token),
        json!({"confirm": "delete", "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body.to_string().contains("confirm"), "{body}");

    let r = delete_account(app, &token, "not my password").await;
    assert_eq!(r.status(), 403);
    let eh = rampart_auth::email_hash(&app.state, "careful@example.com")
        .await
        .unwrap();
    let count: Option<rampart_auth::FailureCount> =
        rampart_store::load(&*app.state.store, &keys::account_failures(&eh))
            .await
            .unwrap();
    assert_eq!(
        count.map(|c| c.failures),
        Some(1),
        "counted like a failed sign-in"
    );
    assert_eq!(
        get_as(app, "/auth/me", &token).await.status(),
        200,
        "nothing happened"
    );
}

/// Only an accepted erasure spends the one-an-hour budget: a wrong confirmation word, a missing
/// password and a wrong one (which counts against the sign-in throttle instead) leave it whole,
/// so the owner's corrected request goes through at once.
async fn a_typo_or_a_wrong_password_does_not_spend_the_hourly_erasure_budget(fx: Fx) {
    let app = &fx.app;
    let email = "typo@example.com";
    let r = post_json(
        app,
        "/auth/register",
        None,
        json!({"email": email, "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let (token, _) = login(app, email).await.unwrap();

    let attempts = [
        (
            json!({"confirm": "delete", "password": PW}),
            422,
            "/confirm",
        ),
        (json!({"confirm": "DELETE"}), 422, "/password"),
        (
            json!({"confirm": "DELETE", "password": ""}),
            422,
            "/password",
        ),
        (
            json!({"confirm": "DELETE", "password": "not my password"}),
            403,
            "",
        ),
    ];
    for (body, status, pointer) in attempts {
        let r = post_json(app, "/account/delete", Some(&token), body.clone()).await;
        assert_eq!(r.status(), status, "{body}");
        let problem: Value = r.json().await.unwrap();
        if !pointer.is_empty() {
            assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        }
    }
    assert_eq!(get_as(app, "/auth/me", &token).await.status(), 200);

    let r = delete_account(app, &token, PW).await;
    assert_eq!(r.status(), 202, "the corrected request is accepted at once");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "erased", "{body}");
    assert_eq!(get_as(app, "/auth/me", &token).await.status(), 401);
}
