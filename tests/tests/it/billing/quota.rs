//! The daily API quota: a free user's 101st counted call of the UTC day is 429
//! `quota-exceeded` with `Retry-After` to midnight, a pro user's is not, the usage view and
//! health and auth routes never count, concurrent calls never over-admit (both backends),
//! `X-API-Key` calls count against the customer's tier, the user routes count the signed-in
//! user whatever `X-API-Key` says, and the GDPR rights are never behind the quota (both
//! backends).

use std::sync::Arc;
use std::time::Duration;

use futures_like::join_all;
use rampart_billing::quota::{self, Metered};
use rampart_billing::tiers::Tier;
use rampart_platform::clock::{ManualClock, SharedClock};
use rampart_tests::{ADMIN_TOKEN, StateFx, TestApp, dynamo_state_fx, embedded_state_fx};
use serde_json::{Value, json};

use super::{PRO_PRICE, app, get, problem, sign_up, subscribe};

/// 2026-01-01T23:50:00Z: ten minutes before UTC midnight (an access token outlives it).
const LATE_MS: i64 = 1_767_311_400_000;

async fn late_evening_app(extra: &[(&str, &str)]) -> (TestApp, Arc<ManualClock>) {
    let clock = ManualClock::new(LATE_MS);
    let shared: SharedClock = clock.clone();
    (app(shared, extra).await, clock)
}

#[tokio::test]
async fn the_101st_call_of_a_free_user_is_429_until_utc_midnight() {
    let (app, clock) = late_evening_app(&[]).await;
    let (_, token) = sign_up(&app, "free@example.com").await;
    for i in 1..=100 {
        let r = get(&app, "/billing/subscription", &token).await;
        assert_eq!(r.status(), 200, "call {i}");
        if i == 100 {
            assert_eq!(r.headers()["ratelimit-policy"], "\"quota\";q=100;w=86400");
            assert_eq!(r.headers()["ratelimit"], "\"quota\";r=0;t=600");
        }
    }
    // Health, auth and the usage view do not count, and still answer.
    assert_eq!(
        app.client
            .get(app.url("/billing/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let me = app
        .client
        .get(app.url("/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let usage: Value = get(&app, "/billing/usage", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        usage["api_calls"],
        json!({"used": 100, "limit": 100, "remaining": 0})
    );
    assert_eq!(usage["day"], "2026-01-01");
    assert_eq!(usage["resets_at"], 1_767_312_000);

    let r = get(&app, "/billing/subscription", &token).await;
    assert_eq!(
        r.headers()["retry-after"],
        "600",
        "to the next UTC midnight"
    );
    assert_eq!(r.headers()["ratelimit"], "\"quota\";r=0;t=600");
    let (status, ty, body) = problem(r).await;
    assert_eq!(
        (status, ty.as_str()),
        (429, "urn:rampart:problem:quota-exceeded")
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("100 API calls per UTC day")
    );

    // A second after midnight, a new day and a new quota.
    clock.advance(Duration::from_secs(601));
    assert_eq!(
        get(&app, "/billing/subscription", &token).await.status(),
        200
    );
    app.shutdown().await;
}

/// The shop's routes count against the same daily quota as billing's; the public catalog does
/// not (it proves no identity), nor does the account's export (a GDPR right).
#[tokio::test]
async fn shop_calls_count_against_the_daily_quota_and_the_catalog_does_not() {
    let (app, _clock) = late_evening_app(&[]).await;
    let (_, token) = sign_up(&app, "shopper@example.com").await;
    for path in ["/orders", "/esims", "/orders/ord_missing"] {
        let r = get(&app, path, &token).await;
        assert!(
            r.headers().contains_key("ratelimit"),
            "{path} is metered: {:?}",
            r.headers()
        );
    }
    let catalog = app.client.get(app.url("/catalog")).send().await.unwrap();
    assert_eq!(catalog.status(), 200);
    assert!(!catalog.headers().contains_key("ratelimit"));
    assert_eq!(get(&app, "/account/export", &token).await.status(), 200);
    let usage: Value = get(&app, "/billing/usage", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        usage["api_calls"],
        json!({"used": 3, "limit": 100, "remaining": 97})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_pro_users_101st_call_is_served() {
    let (app, _clock) = late_evening_app(&[]).await;
    let (uid, token) = sign_up(&app, "pro@example.com").await;
    subscribe(&app, &uid, PRO_PRICE, "sub_pro_quota").await;
    for i in 1..=101 {
        let r = get(&app, "/billing/subscription", &token).await;
        assert_eq!(r.status(), 200, "call {i}");
    }
    let r = get(&app, "/billing/subscription", &token).await;
    assert_eq!(r.headers()["ratelimit-policy"], "\"quota\";q=10000;w=86400");
    assert_eq!(r.headers()["ratelimit"], "\"quota\";r=9898;t=600");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["plan"], "pro");
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_stored_plan_counts_as_free() {
    let (app, _clock) =
        late_evening_app(&[("TIERS", r#"{"free": {"api_calls_per_day": 2}}"#)]).await;
    let (uid, token) = sign_up(&app, "odd@example.com").await;
    // A price missing from STRIPE_PRICES leaves the plan "unknown".
    subscribe(&app, &uid, "price_nobody_mapped", "sub_odd").await;
    let v: Value = get(&app, "/billing/subscription", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["plan"], "unknown");
    assert_eq!(
        get(&app, "/billing/subscription", &token).await.status(),
        200
    );
    let r = get(&app, "/billing/subscription", &token).await;
    assert_eq!(r.status(), 429, "the free tier's 2 calls");
    app.shutdown().await;
}

#[tokio::test]
async fn two_hundred_concurrent_calls_at_a_limit_of_100_admit_exactly_100() {
    let (app, _clock) = late_evening_app(&[]).await;
    let (_, token) = sign_up(&app, "burst@example.com").await;
    let app = Arc::new(app);
    let calls = (0..200).map(|_| {
        let app = app.clone();
        let token = token.clone();
        tokio::spawn(async move { get(&app, "/billing/subscription", &token).await.status() })
    });
    let statuses = join_all(calls).await;
    let ok = statuses.iter().filter(|s| s.as_u16() == 200).count();
    let limited = statuses.iter().filter(|s| s.as_u16() == 429).count();
    assert_eq!((ok, limited), (100, 100));
    Arc::into_inner(app).unwrap().shutdown().await;
}

async fn concurrent_counts_never_over_admit(fx: StateFx) {
    let who = Metered::User {
        id: "u-burst".into(),
        tier: Tier::Free,
    };
    let calls = (0..200).map(|_| {
        let state = fx.state.clone();
        let who = who.clone();
        tokio::spawn(async move { quota::count(&state, &who).await.unwrap().allowed })
    });
    let admitted = join_all(calls).await.into_iter().filter(|a| *a).count();
    assert_eq!(admitted, 100);
    let (used, limit, _) = quota::usage(&fx.state, &who).await.unwrap();
    assert_eq!((used, limit), (100, Some(100)));
}

rampart_tests::on_backends!(super::embedded_state_fx, super::dynamo_state_fx; concurrent_counts_never_over_admit);

#[tokio::test]
async fn api_key_calls_count_against_the_customers_tier() {
    let (app, _clock) =
        late_evening_app(&[("TIERS", r#"{"free": {"api_calls_per_day": 3}}"#)]).await;
    let r = app
        .client
        .post(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"email": "ops@corp.example", "company_name": "Corp", "tier": "free"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let key = r.json::<Value>().await.unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let call = || {
        app.client
            .get(app.url("/usage/summary"))
            .header("x-api-key", &key)
            .send()
    };
    for _ in 0..3 {
        let r = call().await.unwrap();
        assert_eq!(r.status(), 200);
        let rl = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(rl.contains("\"quota\";r="), "{rl}");
    }
    let (status, ty, _) = problem(call().await.unwrap()).await;
    assert_eq!(
        (status, ty.as_str()),
        (429, "urn:rampart:problem:quota-exceeded")
    );
    // Operators are not metered.
    let r = app
        .client
        .get(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.shutdown().await;
}

/// The quota's principal and its exemptions on both backends, at 23:50 UTC.
mod late_day {
    use super::*;

    /// A stack at 23:50 UTC whose free tier allows 3 calls a day, on either backend.
    pub struct Late {
        app: TestApp,
    }

    const THREE_A_DAY: (&str, &str) = ("TIERS", r#"{"free": {"api_calls_per_day": 3}}"#);

    async fn late_embedded() -> Option<Late> {
        let clock: SharedClock = ManualClock::new(LATE_MS);
        Some(Late {
            app: crate::billing::app(clock, &[THREE_A_DAY]).await,
        })
    }

    async fn late_dynamo() -> Option<Late> {
        let clock: SharedClock = ManualClock::new(LATE_MS);
        Some(Late {
            app: crate::billing::dynamo_app(clock, &[THREE_A_DAY]).await?,
        })
    }

    rampart_tests::on_backends!(super::late_embedded, super::late_dynamo;
        an_api_key_header_never_exempts_a_signed_in_user_from_the_quota,
        a_user_past_the_quota_can_still_export_and_erase_the_account,
    );

    async fn get_with_key(app: &TestApp, path: &str, token: &str, key: &str) -> reqwest::Response {
        app.client
            .get(app.url(path))
            .bearer_auth(token)
            .header("x-api-key", key)
            .send()
            .await
            .unwrap()
    }

    /// The user routes authenticate the Bearer (or cookie) user, so that user is who the quota
    /// counts: a refused `X-API-Key` beside it does not make the call uncounted, and a valid one
    /// (here an unlimited enterprise customer's) does not move the user's calls onto its quota.
    async fn an_api_key_header_never_exempts_a_signed_in_user_from_the_quota(fx: Late) {
        let app = &fx.app;
        let r = app
            .client
            .post(app.url("/admin/customers"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"email": "it@big.example", "company_name": "Big", "tier": "enterprise"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let valid_key = r.json::<Value>().await.unwrap()["api_key"]
            .as_str()
            .unwrap()
            .to_string();
        for (who, key) in [
            ("junk@example.com", "x"),
            ("keyed@example.com", valid_key.as_str()),
        ] {
            let (_, token) = sign_up(app, who).await;
            for (i, path) in ["/billing/subscription", "/orders", "/esims"]
                .iter()
                .enumerate()
            {
                let r = get_with_key(app, path, &token, key).await;
                assert_eq!(r.status(), 200, "{who}: {path}");
                let remaining = 2 - i;
                assert_eq!(
                    r.headers()
                        .get("ratelimit")
                        .map(|v| v.to_str().unwrap().to_string()),
                    Some(format!("\"quota\";r={remaining};t=600")),
                    "{who}: {path} is counted against the user"
                );
            }
            let (status, ty, _) =
                problem(get_with_key(app, "/billing/subscription", &token, key).await).await;
            assert_eq!(
                (status, ty.as_str()),
                (429, "urn:rampart:problem:quota-exceeded"),
                "{who}: the fourth call of a free user"
            );
            let usage: Value = get(app, "/billing/usage", &token)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(
                usage["api_calls"]["used"], 3,
                "{who}: the user's day: {usage}"
            );
        }
    }

    /// The rights of access and erasure do not depend on a tier's quota: a free user who spent the
    /// day's calls still exports and erases the account (those routes keep their own limits).
    async fn a_user_past_the_quota_can_still_export_and_erase_the_account(fx: Late) {
        let app = &fx.app;
        let (_, token) = sign_up(app, "spent@example.com").await;
        for _ in 0..3 {
            assert_eq!(
                get(app, "/billing/subscription", &token).await.status(),
                200
            );
        }
        let (status, ty, _) = problem(get(app, "/billing/subscription", &token).await).await;
        assert_eq!(
            (status, ty.as_str()),
            (429, "urn:rampart:problem:quota-exceeded")
        );

        let r = get(app, "/account/export", &token).await;
        assert_eq!(r.status(), 200, "the export");
        let fields = r.headers()["ratelimit"].to_str().unwrap().to_string();
        assert!(!fields.contains("\"quota\""), "not counted: {fields}");
        assert!(
            fields.contains("\"gdpr_export_user\""),
            "its own limit: {fields}"
        );
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["profile"]["email"], "spent@example.com");

        let r = crate::billing::post(
            app,
            "/account/delete",
            &token,
            Some(json!({"confirm": "DELETE", "password": crate::billing::PW})),
            None,
        )
        .await;
        assert_eq!(r.status(), 202, "the erasure");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "erased", "{body}");
        assert_eq!(
            get(app, "/auth/me", &token).await.status(),
            401,
            "the account is gone"
        );
    }
}

/// `futures::future::join_all` without the crate: awaits spawned tasks in order.
mod futures_like {
    pub async fn join_all<T: Send + 'static>(
        tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let tasks: Vec<_> = tasks.into_iter().collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }
}
