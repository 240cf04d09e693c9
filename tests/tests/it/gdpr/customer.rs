//! A business customer whose contact address a user shares. Export and erasure link the two
//! only once the user proved the mailbox (anyone can register any address), and even then an
//! erasure leaves the company's customer and its API keys as they are: revoking keys is an
//! operator's decision. Both backends.

use rampart_tests::{ADMIN_TOKEN, TestApp};
use serde_json::{Value, json};

use super::{Fx, PW, delete_account, dynamo_fx, embedded_fx, get_as, login, post_json, some_ip};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    an_unverified_account_with_a_customers_address_neither_sees_nor_revokes_it,
    a_verified_contact_sees_the_customer_and_erasing_the_account_leaves_its_keys,
);

/// An operator creates a customer with `email` as its contact: (customer id, API key).
async fn business_customer(app: &TestApp, email: &str) -> (String, String) {
    let r = app
        .client
        .post(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .json(&json!({"email": email, "company_name": "Acme GmbH", "tier": "pro"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    (
        v["customer"]["id"].as_str().unwrap().into(),
        v["api_key"].as_str().unwrap().into(),
    )
}

/// What the instance sees when it fetches its license with the key.
async fn license_status(app: &TestApp, key: &str) -> u16 {
    app.client
        .get(app.url("/licenses/current"))
        .header("x-api-key", key)
        .header("x-forwarded-for", some_ip())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The operator's view of the customer.
async fn operator_view(app: &TestApp, id: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("/admin/customers/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Registers `email` and signs in: the access token.
async fn register(app: &TestApp, email: &str) -> String {
    let r = post_json(
        app,
        "/auth/register",
        None,
        json!({"email": email, "password": PW}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    login(app, email).await.expect("login").0
}

/// Proves the mailbox with the code registration mailed to it.
async fn verify_address(app: &TestApp, email: &str) {
    let mails: Value = app
        .client
        .get(app.url("/_local/outbox"))
        .query(&[("to", email)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mail = mails
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .starts_with("Confirm your email")
        })
        .expect("a verification mail");
    let code = mail["body"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .map(|w| w.trim_end_matches('.'))
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_string();
    let r = post_json(
        app,
        "/auth/verify-email",
        None,
        json!({"email": email, "code": code}),
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

/// Whoever registers a customer's contact address without proving it gets nothing of the
/// customer in the export, and erasing that account leaves every key of the customer working.
async fn an_unverified_account_with_a_customers_address_neither_sees_nor_revokes_it(fx: Fx) {
    let app = &fx.app;
    let email = "ceo@acme.example";
    let (customer, key) = business_customer(app, email).await;
    assert_eq!(license_status(app, &key).await, 200);
    let token = register(app, email).await;

    let r = get_as(app, "/account/export", &token).await;
    assert_eq!(r.status(), 200);
    let raw = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["profile"]["email_verified"], false);
    assert_eq!(doc["customers"], json!([]), "{}", doc["customers"]);
    assert!(doc.get("api_keys").is_none(), "{doc}");
    for leaked in [customer.as_str(), "Acme GmbH"] {
        assert!(!raw.contains(leaked), "the export shows {leaked}");
    }

    let r = delete_account(app, &token, PW).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "erased");

    assert_eq!(license_status(app, &key).await, 200, "the key still works");
    let view = operator_view(app, &customer).await;
    assert_eq!(view["customer"]["email"], email);
    let keys = view["api_keys"].as_array().unwrap();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k["status"] == "active"),
        "{view}"
    );
}

/// The verified owner of the contact address sees the customer record (its non-secret fields;
/// the keys are the company's and not exported), and erasing the account leaves the customer
/// and its keys as they were.
async fn a_verified_contact_sees_the_customer_and_erasing_the_account_leaves_its_keys(fx: Fx) {
    let app = &fx.app;
    let email = "cto@acme.example";
    let (customer, key) = business_customer(app, email).await;
    register(app, email).await;
    verify_address(app, email).await;
    let token = login(app, email).await.expect("login").0;

    let r = get_as(app, "/account/export", &token).await;
    assert_eq!(r.status(), 200);
    let raw = r.text().await.unwrap();
    let doc: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(doc["profile"]["email_verified"], true);
    let shown = doc["customers"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{}", doc["customers"]);
    assert_eq!(shown[0]["id"], customer.as_str());
    assert_eq!(shown[0]["email"], email);
    assert_eq!(shown[0]["company_name"], "Acme GmbH");
    assert!(doc.get("api_keys").is_none(), "{doc}");
    let key_id = operator_view(app, &customer).await["api_keys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for secret in [key.as_str(), key_id.as_str(), "secret_hash"] {
        assert!(!raw.contains(secret), "the export shows {secret}");
    }

    let r = delete_account(app, &token, PW).await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "erased");

    assert_eq!(license_status(app, &key).await, 200, "the key still works");
    let view = operator_view(app, &customer).await;
    assert_eq!(view["customer"]["company_name"], "Acme GmbH");
    assert!(
        view["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["status"] == "active"),
        "{view}"
    );
}
