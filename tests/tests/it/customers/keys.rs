//! Operators and keys over HTTP: a key is shown once, works, and is absent from every later
//! response and from the store; rotation with an overlap; revocation on the next request; one
//! 401 for every refused key; the admin token and its failure throttle.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Stack, assert_refused_key, event, stack, stack_at_manual_clock};
use rampart_billing::customers::record::ApiKey;
use rampart_store::{keys, load};

#[tokio::test]
async fn a_new_key_works_once_shown_and_is_never_shown_or_stored_again() {
    let s = stack().await;
    let c = s.create_customer("ops@acme.example", "pro").await;
    assert!(
        c.api_key.starts_with("rk_test_"),
        "not production: a test key"
    );
    assert_eq!(c.body["customer"]["email"], "ops@acme.example");
    assert_eq!(c.body["customer"]["company_name"], "Acme GmbH");
    assert_eq!(c.body["customer"]["tier"], "pro");
    assert!(c.body["customer"]["created_at"].is_i64());
    assert_eq!(
        c.body["key"]["prefix"],
        format!("rk_test_{}", c.key_id),
        "the prefix is the key's non-secret head"
    );
    let secret = c.api_key.rsplit('_').next().unwrap().to_string();
    assert_eq!(secret.len(), 43);

    let r = s
        .report(&c.api_key, &event("e1", "api_calls", 3, s.now()))
        .await;
    assert_eq!(r.status(), 202, "the key works as soon as it is shown");

    // Every later operator view: metadata only.
    let later = [
        s.admin(Method::GET, &format!("/admin/customers/{}", c.id)),
        s.admin(Method::GET, "/admin/customers"),
        s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id)),
        s.admin(
            Method::DELETE,
            &format!("/admin/customers/{}/api-keys/{}", c.id, c.key_id),
        ),
    ];
    for req in later {
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        let text = r.text().await.unwrap();
        assert!(
            !text.contains(&secret),
            "a later response shows the secret: {text}"
        );
        assert!(!text.contains("secret_hash"), "{text}");
    }
    let (_, one) = s
        .get_json(s.admin(Method::GET, &format!("/admin/customers/{}", c.id)))
        .await;
    let first = one["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == c.key_id.as_str())
        .expect("the first key is listed")
        .clone();
    assert_eq!(first["status"], "revoked");
    assert!(first["last_used_at"].is_i64(), "its use was recorded");

    // The table holds the keyed hash, never the key or its secret.
    let dump = s.dump().await;
    assert!(!dump.contains(&secret), "the secret is stored somewhere");
    let stored: ApiKey = load(&*s.app.state.store, &keys::api_key(&c.id, &c.key_id))
        .await
        .unwrap()
        .unwrap();
    let pepper = s.app.state.hash_pepper().await.unwrap();
    assert_eq!(
        stored.secret_hash,
        rampart_platform::crypto::keyed_hash(&pepper, "api_key", &c.api_key)
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn production_issues_live_keys_and_refuses_test_keys() {
    let s = super::stack_with(
        &[("APP_ENV", "production")],
        rampart_platform::clock::system(),
        None,
    )
    .await;
    let c = s.create_customer("live@acme.example", "pro").await;
    assert!(c.api_key.starts_with("rk_live_"), "{}", c.api_key);
    let r = s
        .report(&c.api_key, &event("live", "api_calls", 1, s.now()))
        .await;
    assert_eq!(r.status(), 202);
    let as_test = c.api_key.replace("rk_live_", "rk_test_");
    let r = s
        .report(&as_test, &event("test", "api_calls", 1, s.now()))
        .await;
    let status = r.status().as_u16();
    assert_refused_key(status, &r.json().await.unwrap());
    s.app.shutdown().await;
}

#[tokio::test]
async fn creating_a_customer_names_bad_fields_and_refuses_a_taken_email() {
    let s = stack().await;
    let (status, body) = s
        .get_json(
            s.admin(Method::POST, "/admin/customers")
                .json(&json!({ "email": "not-an-email", "company_name": " ", "tier": "platinum" })),
        )
        .await;
    assert_eq!(status, 422);
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/email", "/company_name", "/tier"]);

    s.create_customer("billing@acme.example", "free").await;
    let (status, _) = s
        .get_json(s.admin(Method::POST, "/admin/customers").json(
            &json!({ "email": "Billing@ACME.example", "company_name": "Acme", "tier": "pro" }),
        ))
        .await;
    assert_eq!(status, 409, "one customer per email, whatever its case");
    let (_, list) = s.get_json(s.admin(Method::GET, "/admin/customers")).await;
    assert_eq!(
        list["customers"].as_array().unwrap().len(),
        1,
        "nothing half-written"
    );
    s.app.shutdown().await;
}

#[tokio::test]
async fn customers_are_listed_newest_first_a_page_at_a_time() {
    let s = stack_at_manual_clock().await;
    let clock = s.clock.clone().unwrap();
    for i in 0..3 {
        s.create_customer(&format!("c{i}@acme.example"), "free")
            .await;
        clock.advance(Duration::from_secs(1));
    }
    let (status, page) = s
        .get_json(s.admin(Method::GET, "/admin/customers?limit=2"))
        .await;
    assert_eq!(status, 200);
    let emails: Vec<&str> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["c2@acme.example", "c1@acme.example"]);
    let cursor = page["cursor"].as_str().expect("more to come");
    let (_, rest) = s
        .get_json(s.admin(
            Method::GET,
            &format!("/admin/customers?limit=2&cursor={cursor}"),
        ))
        .await;
    assert_eq!(rest["customers"][0]["email"], "c0@acme.example");
    assert_eq!(rest["customers"].as_array().unwrap().len(), 1);
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_rotated_key_overlaps_the_old_one_until_its_window_ends() {
    let s = stack_at_manual_clock().await;
    let clock = s.clock.clone().unwrap();
    let c = s.create_customer("rotate@acme.example", "starter").await;

    let (status, rotated) = s
        .get_json(
            s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id))
                .json(&json!({ "expires_in_secs": 3600 })),
        )
        .await;
    assert_eq!(status, 201);
    let new_key = rotated["api_key"].as_str().unwrap().to_string();
    assert_ne!(new_key, c.api_key);
    assert_eq!(rotated["old_key_ids"], json!([c.key_id]));
    assert_eq!(rotated["old_keys_expire_at"], s.now() + 3600);

    let summary = |key: &str| s.with_key(Method::GET, "/usage/summary", key).send();
    assert_eq!(
        summary(&c.api_key).await.unwrap().status(),
        200,
        "overlap: old works"
    );
    assert_eq!(summary(&new_key).await.unwrap().status(), 200, "new works");

    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        summary(&c.api_key).await.unwrap().status(),
        200,
        "still inside"
    );
    clock.advance(Duration::from_secs(1));
    let r = summary(&c.api_key).await.unwrap();
    let status = r.status().as_u16();
    assert_refused_key(status, &r.json().await.unwrap());
    assert_eq!(summary(&new_key).await.unwrap().status(), 200);

    let (_, one) = s
        .get_json(s.admin(Method::GET, &format!("/admin/customers/{}", c.id)))
        .await;
    let statuses: Vec<(&str, &str)> = one["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert!(
        statuses.contains(&(c.key_id.as_str(), "expired")),
        "{statuses:?}"
    );
    assert!(statuses.contains(&(rotated["key"]["id"].as_str().unwrap(), "active")));

    // Without an overlap the old keys stay until revoked.
    let (_, again) = s
        .get_json(s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id)))
        .await;
    assert!(again["old_key_ids"].is_null());
    clock.advance(Duration::from_secs(30 * 86_400));
    assert_eq!(summary(&new_key).await.unwrap().status(), 200);
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_next_request() {
    let s = stack().await;
    let c = s.create_customer("revoke@acme.example", "pro").await;
    let ok = s
        .report(&c.api_key, &event("before", "api_calls", 1, s.now()))
        .await;
    assert_eq!(ok.status(), 202);

    let path = format!("/admin/customers/{}/api-keys/{}", c.id, c.key_id);
    let (status, body) = s.get_json(s.admin(Method::DELETE, &path)).await;
    assert_eq!(status, 200);
    assert_eq!(body["key"]["status"], "revoked");
    assert!(body["key"]["revoked_at"].is_i64());

    let r = s
        .report(&c.api_key, &event("after", "api_calls", 1, s.now()))
        .await;
    let status = r.status().as_u16();
    assert_refused_key(status, &r.json().await.unwrap());

    let (status, again) = s.get_json(s.admin(Method::DELETE, &path)).await;
    assert_eq!(status, 200, "revoking twice changes nothing");
    assert_eq!(again["key"]["revoked_at"], body["key"]["revoked_at"]);

    let other = s.create_customer("other@acme.example", "pro").await;
    let foreign = format!("/admin/customers/{}/api-keys/{}", c.id, other.key_id);
    let (status, _) = s.get_json(s.admin(Method::DELETE, &foreign)).await;
    assert_eq!(status, 404, "a key is only found under its own customer");
    let r = s
        .report(&other.api_key, &event("x", "api_calls", 1, s.now()))
        .await;
    assert_eq!(r.status(), 202, "the other customer's key still works");
    s.app.shutdown().await;
}

#[tokio::test]
async fn every_refused_key_gets_the_same_answer() {
    let s = stack_at_manual_clock().await;
    let clock = s.clock.clone().unwrap();
    let c = s.create_customer("same@acme.example", "pro").await;
    let wrong_secret = format!("rk_test_{}_{}", c.key_id, "A".repeat(43));
    let unknown = format!("rk_test_{}{}_{}", c.id, "0".repeat(16), "B".repeat(43));
    let live_here = c.api_key.replace("rk_test_", "rk_live_");
    // A revoked key and one whose overlap ended.
    let (_, rotated) = s
        .get_json(
            s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id))
                .json(&json!({ "expires_in_secs": 0 })),
        )
        .await;
    let expired = c.api_key.clone();
    let revoked = rotated["api_key"].as_str().unwrap().to_string();
    let path = format!(
        "/admin/customers/{}/api-keys/{}",
        c.id,
        rotated["key"]["id"].as_str().unwrap()
    );
    s.admin(Method::DELETE, &path).send().await.unwrap();
    clock.advance(Duration::from_secs(1));

    let mut bodies: Vec<Value> = Vec::new();
    for key in [
        "",
        "garbage",
        &live_here,
        &wrong_secret,
        &unknown,
        &expired,
        &revoked,
    ] {
        let r = s
            .with_key(Method::GET, "/licenses/current", key)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_refused_key(status, &body);
        bodies.push(body);
    }
    let r = s
        .app
        .client
        .get(s.app.url("/licenses/current"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    bodies.push(r.json().await.unwrap());
    assert_refused_key(status, bodies.last().unwrap());
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");
    s.app.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_bad_keys_from_one_ip_is_cut_off() {
    let s = stack().await;
    let bad = |ip: &str| {
        s.app
            .client
            .get(s.app.url("/usage/summary"))
            .header("x-api-key", "rk_test_nope")
            .header("x-forwarded-for", ip)
            .send()
    };
    for i in 0..100 {
        assert_eq!(
            bad("192.0.2.50").await.unwrap().status(),
            401,
            "attempt {i}"
        );
    }
    let r = bad("192.0.2.50").await.unwrap();
    assert_eq!(r.status(), 429, "100 per 15 minutes per IP");
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        bad("192.0.2.51").await.unwrap().status(),
        401,
        "other IPs unaffected"
    );
    s.app.shutdown().await;
}

async fn admin_status(s: &Stack, token: Option<&str>, ip: &str) -> reqwest::Response {
    let mut req = s
        .app
        .client
        .get(s.app.url("/admin/customers"))
        .header("x-forwarded-for", ip);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn admin_routes_refuse_missing_or_wrong_tokens_and_count_the_failures() {
    let s = stack().await;
    let ip = "203.0.113.77";
    for i in 0..10 {
        let token = if i % 2 == 0 {
            None
        } else {
            Some("wrong-token")
        };
        let r = admin_status(&s, token, ip).await;
        assert_eq!(r.status(), 401, "failure {i}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], "urn:rampart:problem:unauthorized");
    }
    let r = admin_status(&s, Some("wrong-token"), ip).await;
    assert_eq!(r.status(), 429, "10 failures per hour per IP");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    let r = admin_status(&s, Some(rampart_tests::ADMIN_TOKEN), ip).await;
    assert_eq!(r.status(), 429, "past the limit even the right token waits");
    let r = admin_status(&s, Some(rampart_tests::ADMIN_TOKEN), "203.0.113.78").await;
    assert_eq!(r.status(), 200, "another IP is not affected");

    // Each counted failure left an audit event (no token in it).
    let page = s
        .app
        .state
        .store
        .query(rampart_store::Query::table("audit#operator").limit(100))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
    assert!(!s.dump().await.contains("wrong-token"));
    s.app.shutdown().await;
}

#[tokio::test]
async fn authenticated_operators_get_600_requests_an_hour() {
    let s = stack().await;
    for i in 0..600 {
        let r = admin_status(&s, Some(rampart_tests::ADMIN_TOKEN), "198.51.100.9").await;
        assert_eq!(r.status(), 200, "request {i}");
        if i == 0 {
            assert!(
                r.headers()["ratelimit-policy"]
                    .to_str()
                    .unwrap()
                    .contains("q=600")
            );
        }
    }
    let r = admin_status(&s, Some(rampart_tests::ADMIN_TOKEN), "198.51.100.10").await;
    assert_eq!(r.status(), 429, "per operator, whatever the IP");
    assert!(r.headers().contains_key("retry-after"));
    s.app.shutdown().await;
}

#[tokio::test]
async fn every_admin_action_is_audited_without_secrets() {
    let s = stack().await;
    let c = s.create_customer("audit@acme.example", "pro").await;
    s.admin(Method::GET, &format!("/admin/customers/{}", c.id))
        .send()
        .await
        .unwrap();
    let (_, rotated) = s
        .get_json(s.admin(Method::POST, &format!("/admin/customers/{}/api-keys", c.id)))
        .await;
    s.admin(
        Method::DELETE,
        &format!("/admin/customers/{}/api-keys/{}", c.id, c.key_id),
    )
    .send()
    .await
    .unwrap();
    let page = s
        .app
        .state
        .store
        .query(rampart_store::Query::table(format!("audit#customer:{}", c.id)).limit(100))
        .await
        .unwrap();
    let text = format!("{:?}", page.items);
    for kind in [
        "customer_created",
        "api_key_created",
        "customer_viewed",
        "api_key_rotated",
        "api_key_revoked",
    ] {
        assert!(text.contains(kind), "{kind} missing: {text}");
    }
    assert!(text.contains("operator:"), "who acted");
    for secret in [&c.api_key, rotated["api_key"].as_str().unwrap()] {
        assert!(!text.contains(secret.rsplit('_').next().unwrap()));
    }
    s.app.shutdown().await;
}
