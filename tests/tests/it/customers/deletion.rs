//! Operators deleting customers, over HTTP on both backends: every working key is revoked at
//! once, the usage stays, the address is released, and the customer is gone from every operator
//! route (a second deletion included).

use reqwest::Method;
use serde_json::json;

use super::{Stack, assert_refused_key, dynamo_stack, embedded_stack, event};
use rampart_billing::customers::record::{ApiKey, UsageCounter};
use rampart_store::{keys, load};

rampart_tests::on_backends!(
    super::embedded_stack, super::dynamo_stack;
    deleting_a_customer_revokes_its_keys_at_once_and_keeps_its_usage,
    a_deleted_customer_is_gone_from_every_operator_route,
);

async fn deleting_a_customer_revokes_its_keys_at_once_and_keeps_its_usage(s: Stack) {
    let c = s.create_customer("gone@acme.example", "pro").await;
    let r = s
        .report(&c.api_key, &event("before", "api_calls", 4, s.now()))
        .await;
    assert_eq!(r.status(), 202);
    let (_, rotated) = s
        .get_json(s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id)))
        .await;
    let second = rotated["api_key"].as_str().unwrap().to_string();
    let second_id = rotated["key"]["id"].as_str().unwrap().to_string();

    let (status, body) = s
        .get_json(s.admin(Method::DELETE, &s.customer_path(&c.id)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], c.id.as_str());
    assert_eq!(body["deleted_at"], s.now());
    let mut revoked: Vec<&str> = body["revoked_key_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    revoked.sort_unstable();
    let mut expected = [c.key_id.as_str(), second_id.as_str()];
    expected.sort_unstable();
    assert_eq!(revoked, expected);

    // Both keys stop at once.
    for key in [&c.api_key, &second] {
        let r = s
            .report(key, &event("after", "api_calls", 1, s.now()))
            .await;
        let status = r.status().as_u16();
        assert_refused_key(status, &r.json().await.unwrap());
    }

    // Stored: the record marked, without its address or place in the list; the lookup
    // gone; the keys revoked; the usage kept.
    let stored = s.stored(&c.id).await;
    assert_eq!(stored.deleted_at, Some(s.now()));
    assert!(stored.deleted_by.unwrap().starts_with("operator:"));
    assert_eq!(stored.email, "");
    assert_eq!(stored.company_name, "Acme GmbH");
    assert_eq!(s.holder("gone@acme.example").await, None);
    for id in [&c.key_id, &second_id] {
        let key: ApiKey = load(&*s.app.state.store, &keys::api_key(&c.id, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(key.revoked_at, Some(s.now()));
    }
    let day = rampart_billing::customers::date::format_day(
        rampart_billing::customers::date::day_number(s.now()),
    );
    let counter: UsageCounter = load(
        &*s.app.state.store,
        &keys::usage_counter(&c.id, &day, "api_calls"),
    )
    .await
    .unwrap()
    .expect("the usage stays");
    assert_eq!(counter.quantity, 4);
    assert!(
        !s.dump().await.contains("gone@acme.example"),
        "no address left"
    );
    let deleted = s.audit_details(&c.id, "customer_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["revoked_key_ids"].as_array().unwrap().len(), 2);

    // The address may become another customer's.
    let again = s.create_customer("gone@acme.example", "free").await;
    assert_ne!(again.id, c.id);
    s.app.shutdown().await;
}

async fn a_deleted_customer_is_gone_from_every_operator_route(s: Stack) {
    let kept = s.create_customer("kept@acme.example", "free").await;
    let c = s.create_customer("deleted@acme.example", "free").await;
    let path = s.customer_path(&c.id);
    let (status, _) = s.get_json(s.admin(Method::DELETE, &path)).await;
    assert_eq!(status, 200);

    let (status, body) = s.get_json(s.admin(Method::DELETE, &path)).await;
    assert_eq!(status, 404, "a second deletion: {body}");
    assert_eq!(body["type"], "urn:rampart:problem:not-found");
    let requests = [
        s.admin(Method::GET, &path),
        s.admin(Method::PATCH, &path)
            .json(&json!({ "tier": "pro" })),
        s.admin(Method::GET, &format!("{path}/usage")),
        s.admin(Method::POST, &format!("{path}/api-keys")),
        s.admin(Method::DELETE, &format!("{path}/api-keys/{}", c.key_id)),
    ];
    for req in requests {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 404, "{:?}", r.url());
    }
    let (_, list) = s.get_json(s.admin(Method::GET, "/admin/customers")).await;
    let ids: Vec<&str> = list["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [kept.id.as_str()], "only the live customer is listed");
    s.app.shutdown().await;
}
