//! The tier table is public and is the one table: `TIERS` overrides it for billing and for
//! customer licenses alike, and a bad `TIERS` stops startup naming the entry.

use rampart_tests::settings;
use serde_json::Value;

use super::{app, get, sign_up};

#[tokio::test]
async fn tiers_are_public_with_each_paid_tiers_price_present_or_not() {
    let app = app(
        rampart_platform::clock::system(),
        &[("STRIPE_PRICES", "pro=price_p")],
    )
    .await;
    let r = app
        .client
        .get(app.url("/billing/tiers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("ratelimit").is_none(),
        "anonymous: not metered"
    );
    let body: Value = r.json().await.unwrap();
    let tiers = body["tiers"].as_array().unwrap();
    let names: Vec<&str> = tiers.iter().map(|t| t["tier"].as_str().unwrap()).collect();
    assert_eq!(names, ["free", "starter", "pro", "enterprise"]);
    assert_eq!(tiers[0]["limits"]["api_calls_per_day"], 100);
    assert_eq!(tiers[1]["limits"]["private_repos"], 5);
    assert_eq!(tiers[2]["limits"]["marketplace_agents"], 25);
    assert!(tiers[3]["limits"]["team_members"].is_null(), "unlimited");
    assert_eq!(tiers[2]["price_id"], "price_p");
    assert_eq!(tiers[2]["purchasable"], true);
    assert!(tiers[1]["price_id"].is_null(), "starter has no price here");
    assert_eq!(tiers[1]["purchasable"], false);
    assert_eq!(tiers[0]["purchasable"], false);
    app.shutdown().await;
}

#[tokio::test]
async fn an_override_changes_limits_and_entitlements_show_them_with_todays_usage() {
    let app = app(
        rampart_platform::clock::system(),
        &[(
            "TIERS",
            r#"{"free": {"private_repos": 2, "api_calls_per_day": 50}}"#,
        )],
    )
    .await;
    let (_, token) = sign_up(&app, "ent@example.com").await;
    get(&app, "/billing/subscription", &token).await;
    let r = get(&app, "/billing/entitlements", &token).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ratelimit-policy"], "\"quota\";q=50;w=86400");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["tier"], "free");
    assert_eq!(body["limits"]["private_repos"], 2);
    assert_eq!(
        body["limits"]["team_members"], 1,
        "untouched columns keep the table's"
    );
    assert_eq!(
        body["usage"]["api_calls_per_day"], 2,
        "this call and the one before"
    );
    assert!(
        body["resets_at"].as_i64().unwrap() % 86_400 == 0,
        "UTC midnight"
    );
    app.shutdown().await;
}

#[test]
fn a_bad_tiers_setting_stops_startup_naming_the_entry() {
    for (json, named) in [
        (r#"{"gold": {}}"#, "gold"),
        (r#"{"pro": {"private_repos": "many"}}"#, "pro.private_repos"),
        (r#"{"starter": {"team_members": 99}}"#, "pro.team_members"),
    ] {
        let e = rampart_platform::config::Settings::from_lookup(|k| {
            (k == "TIERS").then(|| json.into())
        })
        .unwrap_err();
        assert!(e.0.contains("TIERS") && e.0.contains(named), "{}", e.0);
    }
    let ok = settings(&[("TIERS", r#"{"enterprise": {"api_calls_per_day": null}}"#)]);
    assert_eq!(
        ok.tiers
            .limits(rampart_billing::tiers::Tier::Enterprise)
            .api_calls_per_day,
        None
    );
}

#[test]
fn feature_checks_name_the_limit_and_the_tier_that_lifts_it() {
    use rampart_billing::tiers::{Feature, Table, Tier, require_on};
    let table = Table::default();
    let e = require_on(&table, Tier::Free, Feature::PrivateRepos, 0).unwrap_err();
    assert_eq!(e.status(), 403);
    let text = e.to_string();
    assert!(text.starts_with("tier-limit"), "{text}");
    assert!(
        text.contains("private_repos") && text.contains("starter"),
        "{text}"
    );
    assert!(require_on(&table, Tier::Pro, Feature::PrivateRepos, 49).is_ok());
}
