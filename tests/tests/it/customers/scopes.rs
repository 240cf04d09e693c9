//! Keys with a name, scopes and an expiry, over HTTP on both backends: a key without a route's
//! scope gets 403 naming it, an expired key 401, bad options 422 naming the member with nothing
//! issued, and keys issued without scopes (as every key before scopes existed) keep full access.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Stack, assert_refused_key, dynamo_stack, embedded_stack, event};
use rampart_billing::customers::record::api_key::SCOPES;
use rampart_store::keys;

rampart_tests::on_backends!(
    super::embedded_stack, super::dynamo_stack;
    a_key_without_the_usage_scope_gets_403_naming_it,
    an_expired_key_gets_401,
    bad_key_options_are_422_naming_the_member_and_issue_nothing,
    listing_keys_shows_name_scopes_and_expiry_but_never_the_secret,
    keys_stored_without_scopes_keep_full_access,
);

impl Stack {
    async fn issue(&self, customer_id: &str, body: &Value) -> (u16, Value) {
        self.get_json(
            self.admin(
                Method::POST,
                &format!("/admin/customers/{customer_id}/api-keys"),
            )
            .json(body),
        )
        .await
    }

    async fn key_views(&self, customer_id: &str) -> Vec<Value> {
        let (_, one) = self
            .get_json(self.admin(Method::GET, &format!("/admin/customers/{customer_id}")))
            .await;
        one["api_keys"].as_array().unwrap().clone()
    }
}

fn assert_missing_scope(status: u16, body: &Value, scope: &str) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["type"], "urn:rampart:problem:insufficient-scope");
    assert!(
        body["detail"].as_str().unwrap().contains(scope),
        "names {scope}: {body}"
    );
}

async fn a_key_without_the_usage_scope_gets_403_naming_it(s: Stack) {
    let c = s.create_customer("scoped@acme.example", "pro").await;
    let (status, issued) = s
        .issue(
            &c.id,
            &json!({ "name": "dashboard", "scopes": ["usage:read"] }),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let reader = issued["api_key"].as_str().unwrap();

    let r = s
        .report(reader, &event("no", "api_calls", 1, s.now()))
        .await;
    let status = r.status().as_u16();
    assert_missing_scope(status, &r.json().await.unwrap(), "usage:write");
    let (status, body) = s
        .get_json(s.with_key(Method::GET, "/licenses/current", reader))
        .await;
    assert_missing_scope(status, &body, "licenses:read");

    let (status, summary) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", reader))
        .await;
    assert_eq!(status, 200, "the scope it has works");
    assert_eq!(
        summary["totals"],
        json!({}),
        "the refused report counted nothing"
    );

    // A writer cannot read.
    let (_, issued) = s.issue(&c.id, &json!({ "scopes": ["usage:write"] })).await;
    let writer = issued["api_key"].as_str().unwrap();
    let r = s
        .report(writer, &event("yes", "api_calls", 2, s.now()))
        .await;
    assert_eq!(r.status(), 202);
    let (status, body) = s
        .get_json(s.with_key(Method::GET, "/usage/summary", writer))
        .await;
    assert_missing_scope(status, &body, "usage:read");
    s.app.shutdown().await;
}

async fn an_expired_key_gets_401(s: Stack) {
    let clock = s.clock.clone().unwrap();
    let c = s.create_customer("expiring@acme.example", "pro").await;
    let at = s.now() + 60;
    let (status, issued) = s.issue(&c.id, &json!({ "expires_at": at })).await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["key"]["expires_at"], at);
    let key = issued["api_key"].as_str().unwrap();
    let summary = || s.with_key(Method::GET, "/usage/summary", key).send();
    assert_eq!(summary().await.unwrap().status(), 200);
    clock.advance(Duration::from_secs(59));
    assert_eq!(summary().await.unwrap().status(), 200, "until its second");
    clock.advance(Duration::from_secs(1));
    let r = summary().await.unwrap();
    let status = r.status().as_u16();
    assert_refused_key(status, &r.json().await.unwrap());
    let views = s.key_views(&c.id).await;
    let view = views
        .iter()
        .find(|k| k["id"] == issued["key"]["id"])
        .unwrap();
    assert_eq!(view["status"], "expired");
    assert_eq!(
        s.with_key(Method::GET, "/usage/summary", &c.api_key)
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the customer's other key is unaffected"
    );
    s.app.shutdown().await;
}

async fn bad_key_options_are_422_naming_the_member_and_issue_nothing(s: Stack) {
    let c = s.create_customer("options@acme.example", "pro").await;
    let (status, body) = s
        .issue(
            &c.id,
            &json!({ "scopes": ["usage:read", "licenses:write"] }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/scopes/1");
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("licenses:write"),
        "names the unknown scope: {detail}"
    );
    assert!(
        detail.contains("usage:write"),
        "and lists the real ones: {detail}"
    );

    let cases = [
        (json!({ "scopes": [] }), "/scopes"),
        (json!({ "name": "x".repeat(101) }), "/name"),
        (json!({ "name": "" }), "/name"),
        (json!({ "expires_at": s.now() }), "/expires_at"),
        (json!({ "expires_at": s.now() - 1 }), "/expires_at"),
        (
            json!({ "expires_at": s.now() + 6 * 365 * 86_400 }),
            "/expires_at",
        ),
        (
            json!({ "expires_at": "2030-01-01T00:00:00Z" }),
            "/expires_at",
        ),
        (json!({ "scope": ["usage:read"] }), "/scope"),
    ];
    for (req, pointer) in cases {
        let (status, body) = s.issue(&c.id, &req).await;
        assert_eq!(status, 422, "{req}: {body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{req}: {body}");
    }
    let (status, _) = s
        .issue(
            &c.id,
            &json!({ "name": "x".repeat(100), "scopes": Vec::<String>::new() }),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(s.key_views(&c.id).await.len(), 1, "no key was issued");
    s.app.shutdown().await;
}

async fn listing_keys_shows_name_scopes_and_expiry_but_never_the_secret(s: Stack) {
    let c = s.create_customer("listing@acme.example", "pro").await;
    // Newest first: a second later than the first key.
    s.clock.clone().unwrap().advance(Duration::from_secs(1));
    let at = s.now() + 86_400;
    let (_, issued) = s
        .issue(
            &c.id,
            &json!({ "name": " eu-west-1 ", "scopes": ["licenses:read", "usage:write"], "expires_at": at }),
        )
        .await;
    let secret = issued["api_key"].as_str().unwrap();
    let views = s.key_views(&c.id).await;
    assert_eq!(views.len(), 2);
    let new = &views[0];
    assert_eq!(new["id"], issued["key"]["id"]);
    assert_eq!(new["name"], "eu-west-1");
    assert_eq!(new["scopes"], json!(["usage:write", "licenses:read"]));
    assert_eq!(new["all_scopes"], false);
    assert_eq!(new["expires_at"], at);
    assert_eq!(new["status"], "active");
    assert!(new["created_at"].is_i64());
    assert!(
        secret.starts_with(new["prefix"].as_str().unwrap()),
        "the prefix is the key's public head"
    );
    let first = &views[1];
    assert_eq!(first["name"], Value::Null);
    assert_eq!(
        first["scopes"],
        json!(["usage:write", "usage:read", "licenses:read"])
    );
    assert_eq!(first["all_scopes"], true);
    assert_eq!(first["expires_at"], Value::Null);

    let (_, one) = s
        .get_json(s.admin(Method::GET, &format!("/admin/customers/{}", c.id)))
        .await;
    let text = one.to_string();
    for k in [secret, c.api_key.as_str()] {
        assert!(!text.contains(k.rsplit('_').next().unwrap()), "{text}");
    }
    assert!(!text.contains("secret_hash"));
    let audit = s.audit_of(&c.id).await;
    assert!(audit.contains("eu-west-1") && audit.contains("licenses:read"));
    s.app.shutdown().await;
}

async fn keys_stored_without_scopes_keep_full_access(s: Stack) {
    let c = s.create_customer("legacy@acme.example", "pro").await;
    // Every key stored before scopes existed looks like this first key: no `scopes` at all.
    let (pk, sk) = keys::api_key(&c.id, &c.key_id);
    let item = s.app.state.store.get(&pk, &sk).await.unwrap().unwrap();
    assert!(item.get(SCOPES).is_none(), "{item:?}");

    let r = s
        .report(&c.api_key, &event("legacy", "api_calls", 1, s.now()))
        .await;
    assert_eq!(r.status(), 202);
    for path in ["/usage/summary", "/licenses/current"] {
        let r = s
            .with_key(Method::GET, path, &c.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    s.app.shutdown().await;
}
