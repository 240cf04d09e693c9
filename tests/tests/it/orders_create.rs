//! `POST /orders` and the read routes, on a manual clock: one key makes one order however it is
//! retried, a crash after the claim leaves nothing behind, limits and input rules, listing.

use std::time::Duration;

use rampart_http::idempotency::{self, Claim};
use rampart_platform::clock::Clock;
use serde_json::{Value, json};

use super::{Shop, assert_problem, get, json_of, order, post, sign_up};

rampart_tests::on_backends!(
    crate::orders::embedded_shop_manual, crate::orders::dynamo_shop_manual;
    fifty_identical_orders_with_one_key_make_one_order_and_one_esim,
    a_crash_after_the_claim_leaves_nothing_and_a_retry_after_the_deadline_orders_once,
    the_thirty_first_order_in_a_minute_waits,
    orders_list_newest_first_in_pages,
    an_order_of_more_than_one_profile_is_refused_and_writes_nothing,
);

async fn fifty_identical_orders_with_one_key_make_one_order_and_one_esim(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let body = json!({"sku": "eu-5gb-30d", "quantity": 1});
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, token, body) = (
            app.client.clone(),
            app.url("/orders"),
            alice.token.clone(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "fifty")
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = r.headers().get("idempotent-replayed").is_some();
            (r.status().as_u16(), replayed, r.text().await.unwrap())
        }));
    }
    let mut fresh = Vec::new();
    let mut replays = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (201, false, body) => fresh.push(body),
            (201, true, body) => replays.push(body),
            (409, _, _) => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(fresh.len(), 1, "exactly one request created the order");
    assert!(
        replays.iter().all(|r| *r == fresh[0]),
        "replays are the 201"
    );
    let created: Value = serde_json::from_str(&fresh[0]).unwrap();
    assert_eq!(created["status"], "CREATED");
    assert_eq!(created["amount"], 1500);
    assert_eq!(created["currency"], "EUR");
    assert_eq!(created["esim"]["status"], "PENDING");

    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(orders["orders"][0]["id"], created["id"]);
    let esims = json_of(get(app, &alice, "/esims").await).await;
    assert_eq!(esims["esims"].as_array().unwrap().len(), 1, "{esims}");
    assert_eq!(esims["esims"][0]["id"], created["esim"]["id"]);
    assert_eq!(esims["esims"][0]["order_id"], created["id"]);

    // A retry afterwards replays; the same key with another body is refused.
    let again = post(app, &alice, "/orders", Some("fifty"), &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.headers()["location"],
        format!("/orders/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(json_of(again).await, created);
    let other = json!({"sku": "eu-1gb-7d", "quantity": 1});
    assert_eq!(
        post(app, &alice, "/orders", Some("fifty"), &other)
            .await
            .status(),
        422
    );
    // Another user's identical key is that user's own request.
    let bob = sign_up(app, "bob@example.com").await;
    let bobs = post(app, &bob, "/orders", Some("fifty"), &body).await;
    assert_eq!(bobs.status(), 201);
    assert!(bobs.headers().get("idempotent-replayed").is_none());
    assert_ne!(json_of(bobs).await["id"], created["id"]);
}

async fn a_crash_after_the_claim_leaves_nothing_and_a_retry_after_the_deadline_orders_once(
    shop: Shop,
) {
    let app = &shop.app;
    let clock = shop.clock.clone().expect("manual clock");
    let alice = sign_up(app, "alice@example.com").await;
    let body = json!({"sku": "eu-1gb-7d", "quantity": 1});
    // A request claimed the key the way the route does, then its process died.
    let hash = idempotency::request_hash("POST", "/orders", body.to_string().as_bytes());
    let claim = idempotency::claim(
        &app.state.store,
        clock.now_secs(),
        app.state.settings.idempotency_ttl,
        &format!("user:{}", alice.id),
        "crash",
        &hash,
    )
    .await
    .unwrap();
    assert!(matches!(claim, Claim::Acquired(_)));
    drop(claim);

    let early = post(app, &alice, "/orders", Some("crash"), &body).await;
    assert_eq!(early.status(), 409, "the dead claim still holds the key");
    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(orders["orders"], json!([]), "nothing half-written");
    let esims = json_of(get(app, &alice, "/esims").await).await;
    assert_eq!(esims["esims"], json!([]), "no profile without an order");

    clock.advance(idempotency::IN_PROGRESS_DEADLINE);
    let retried = post(app, &alice, "/orders", Some("crash"), &body).await;
    assert_eq!(retried.status(), 201);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let created = json_of(retried).await;
    let replay = post(app, &alice, "/orders", Some("crash"), &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay).await, created);
    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1);
    assert_eq!(
        json_of(get(app, &alice, "/esims").await).await["esims"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn the_thirty_first_order_in_a_minute_waits(shop: Shop) {
    let app = &shop.app;
    let clock = shop.clock.clone().expect("manual clock");
    let alice = sign_up(app, "alice@example.com").await;
    let body = json!({"sku": "eu-1gb-7d", "quantity": 1});
    for i in 0..30 {
        let r = post(app, &alice, "/orders", Some(&format!("k{i}")), &body).await;
        assert_eq!(r.status(), 201, "order {i}");
    }
    let limited = post(app, &alice, "/orders", Some("k30"), &body).await;
    assert!(limited.headers().get("retry-after").is_some());
    assert!(
        limited.headers()["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("q=30;w=60")
    );
    assert_problem(limited, 429, "rate-limited").await;
    // A replay is not a new order: it is answered, not counted.
    let replay = post(app, &alice, "/orders", Some("k0"), &body).await;
    assert_eq!(replay.status(), 201);
    // The 429 released its key: the same request goes through once the window passed.
    clock.advance(Duration::from_secs(60));
    let later = post(app, &alice, "/orders", Some("k30"), &body).await;
    assert_eq!(later.status(), 201);
    assert!(later.headers().get("idempotent-replayed").is_none());
    // Another user has a limit of their own.
    let bob = sign_up(app, "bob@example.com").await;
    clock.advance(Duration::from_secs(1));
    order(app, &bob, "eu-1gb-7d", 1).await;
}

async fn orders_list_newest_first_in_pages(shop: Shop) {
    let app = &shop.app;
    let clock = shop.clock.clone().expect("manual clock");
    let alice = sign_up(app, "alice@example.com").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(order(app, &alice, "eu-1gb-7d", 1).await["id"].clone());
        clock.advance(Duration::from_secs(1));
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/orders?limit=2&cursor={c}"),
            None => "/orders?limit=2".to_string(),
        };
        let page = json_of(get(app, &alice, &path).await).await;
        let items = page["orders"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|o| o["id"].clone()));
        match page["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() <= 5, "paging must end");
    }
    assert_eq!(seen, ids, "every order once, newest first");
    let first = json_of(get(app, &alice, "/orders?limit=1").await).await;
    let one = &first["orders"][0];
    assert_eq!(one["payment"], Value::Null, "no payment yet");
    assert_eq!(one["esim"]["status"], "PENDING");
    let by_id = json_of(
        get(
            app,
            &alice,
            &format!("/orders/{}", one["id"].as_str().unwrap()),
        )
        .await,
    )
    .await;
    assert_eq!(&by_id, one);

    for bad in ["/orders?limit=0", "/orders?limit=101"] {
        assert_eq!(get(app, &alice, bad).await.status(), 422, "{bad}");
    }
    // An unknown parameter is refused as on every listing: 400 naming it.
    let r = get(app, &alice, "/orders?color=red").await;
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("`color`"),
        "{problem}"
    );
    // A cursor from someone else's listing is refused, not followed.
    let bob = sign_up(app, "bob@example.com").await;
    let c = first["cursor"].as_str().unwrap();
    let r = get(app, &bob, &format!("/orders?cursor={c}")).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_written() {
    let shop = super::shop_with(&[]).await;
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    let good = json!({"sku": "eu-1gb-7d", "quantity": 1});

    let r = post(app, &alice, "/orders", None, &good).await;
    assert_problem(r, 400, "idempotency-key-missing").await;
    assert_eq!(
        post(app, &alice, "/orders", Some("has space"), &good)
            .await
            .status(),
        400
    );
    let cases = [
        (json!({"sku": "mars-1tb", "quantity": 1}), "/sku"),
        (json!({"sku": "eu-1gb-7d", "quantity": 0}), "/quantity"),
        (json!({"sku": "eu-1gb-7d", "quantity": 11}), "/quantity"),
        (json!({"sku": "eu-1gb-7d", "quantity": "two"}), "/quantity"),
        (json!({"sku": "eu-1gb-7d", "quantity": -1}), "/quantity"),
    ];
    for (i, (body, pointer)) in cases.iter().enumerate() {
        let r = post(app, &alice, "/orders", Some(&format!("bad{i}")), body).await;
        let p = assert_problem(r, 422, "unprocessable").await;
        assert_eq!(p["errors"][0]["pointer"], *pointer, "{body}");
    }
    let extra = json!({"sku": "eu-1gb-7d", "quantity": 1, "price": 1});
    let p = assert_problem(
        post(app, &alice, "/orders", Some("extra"), &extra).await,
        422,
        "unprocessable",
    )
    .await;
    assert_eq!(
        p["errors"][0]["pointer"], "/price",
        "the unknown field is named"
    );
    // A refused body did not spend its key: corrected, the same key creates the order.
    let fixed = post(app, &alice, "/orders", Some("bad0"), &good).await;
    assert_eq!(fixed.status(), 201);

    let big = json!({"sku": "x".repeat(17 * 1024), "quantity": 1});
    let r = post(app, &alice, "/orders", Some("big"), &big).await;
    assert_problem(r, 413, "payload-too-large").await;
    let r = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(&alice.token)
        .header("idempotency-key", "text")
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let anonymous = app
        .client
        .post(app.url("/orders"))
        .header("idempotency-key", "anon")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let wrong_kind = format!("/orders/pay_{}", "0".repeat(32));
    for path in ["/orders/ord_123", "/orders/ORD_x", wrong_kind.as_str()] {
        assert_eq!(get(app, &alice, path).await.status(), 400, "{path}");
    }
    let r = post(app, &alice, "/esims/esim_nope/activate", None, &json!({})).await;
    assert_eq!(r.status(), 400);
    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(
        orders["orders"].as_array().unwrap().len(),
        1,
        "only the corrected order"
    );
    shop.app.shutdown().await;
}

#[tokio::test]
async fn the_catalog_is_public_data_and_a_setting_replaces_it() {
    let shop = super::shop_with(&[]).await;
    let r = shop
        .app
        .client
        .get(shop.app.url("/catalog"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plans = json_of(r).await;
    let plans = plans.as_array().unwrap();
    assert!(plans.len() >= 3);
    for p in plans {
        for field in ["sku", "name", "data_gb", "days", "amount", "currency"] {
            assert!(!p[field].is_null(), "{field} missing in {p}");
        }
    }
    shop.app.shutdown().await;

    let custom = r#"[{"sku":"moon-1gb","name":"Moon 1 GB","data_gb":1,"days":3,"amount":999,"currency":"USD"}]"#;
    let shop = super::shop_with(&[("CATALOG", custom)]).await;
    let app = &shop.app;
    let plans = json_of(app.client.get(app.url("/catalog")).send().await.unwrap()).await;
    assert_eq!(plans, serde_json::from_str::<Value>(custom).unwrap());
    let alice = sign_up(app, "alice@example.com").await;
    let o = order(app, &alice, "moon-1gb", 1).await;
    assert_eq!(
        (o["amount"].as_i64(), o["currency"].as_str()),
        (Some(999), Some("USD"))
    );
    let gone = json!({"sku": "eu-1gb-7d", "quantity": 1});
    assert_eq!(
        post(app, &alice, "/orders", Some("old"), &gone)
            .await
            .status(),
        422
    );
    shop.app.shutdown().await;

    // A malformed catalog stops startup and names the setting.
    for bad in [
        "{",
        "[]",
        r#"[{"sku":"a","name":"A","data_gb":1,"days":1,"amount":-5,"currency":"EUR"}]"#,
    ] {
        let e = rampart_platform::config::Settings::from_lookup(|k| {
            (k == "CATALOG").then(|| bad.to_string())
        })
        .unwrap_err();
        assert!(e.0.starts_with("CATALOG"), "{bad}: {}", e.0);
    }
}

/// One order makes one eSIM profile, so a quantity above 1 would charge for profiles that never
/// exist: it is refused with a 422 naming `/quantity` and saying why, before anything is written
/// (the key stays free for the corrected request).
async fn an_order_of_more_than_one_profile_is_refused_and_writes_nothing(shop: Shop) {
    let app = &shop.app;
    let alice = sign_up(app, "alice@example.com").await;
    for quantity in [2, 10] {
        let body = json!({"sku": "eu-5gb-30d", "quantity": quantity});
        let r = post(app, &alice, "/orders", Some("several"), &body).await;
        let p = assert_problem(r, 422, "unprocessable").await;
        assert_eq!(p["errors"][0]["pointer"], "/quantity", "{p}");
        let detail = p["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("one eSIM profile"), "says why: {p}");
    }
    let orders = json_of(get(app, &alice, "/orders").await).await;
    assert_eq!(orders["orders"], json!([]), "nothing was ordered");
    let esims = json_of(get(app, &alice, "/esims").await).await;
    assert_eq!(esims["esims"], json!([]), "and no profile exists");

    let one = json!({"sku": "eu-5gb-30d", "quantity": 1});
    let r = post(app, &alice, "/orders", Some("several"), &one).await;
    assert_eq!(r.status(), 201, "the corrected request uses the same key");
    let created = json_of(r).await;
    assert_eq!(
        (created["quantity"].as_i64(), created["amount"].as_i64()),
        (Some(1), Some(1500))
    );
}
