//! The operator routes over HTTP on the local stack: legal holds (operator token, validation,
//! place/list/lift, every change audited) and the on-demand dry run.

use reqwest::StatusCode;
use serde_json::{Value, json};

use rampart_http::audit::AuditEvent;
use rampart_store::Query;
use rampart_tests::{ADMIN_TOKEN, TestApp, spawn_app};

use super::{audit_event, stored_audit};

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

async fn audit_kinds(app: &TestApp, hold_id: &str) -> Vec<(String, Value)> {
    let page = app
        .state
        .store
        .query(Query::table(format!("audit#legal_hold:{hold_id}")))
        .await
        .unwrap();
    page.items
        .iter()
        .map(|i| {
            let e = AuditEvent::try_from(i).unwrap();
            (e.kind, e.detail)
        })
        .collect()
}

#[tokio::test]
async fn legal_hold_routes_refuse_callers_without_the_operator_token() {
    let app = spawn_app().await;
    let body = json!({"subject": {"user_id": "u1"}, "reason": "case"});
    let r = post(&app, "/admin/legal-holds", None, body.clone()).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post(&app, "/admin/legal-holds", Some("wrong-token"), body).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .get(app.url("/admin/legal-holds"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .client
        .delete(app.url("/admin/legal-holds/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = post(&app, "/admin/retention/run", None, json!({"dry_run": true})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.shutdown().await;
}

#[tokio::test]
async fn an_operator_places_lists_and_lifts_a_hold_and_each_change_is_audited() {
    let app = spawn_app().await;
    let created: Value = app
        .client
        .post(app.url("/admin/customers"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"email": "ops@acme.example", "company_name": "Acme", "tier": "pro"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let customer = created["customer"]["id"]
        .as_str()
        .expect("customer id")
        .to_string();
    let body = json!({"subject": {"customer_id": customer}, "reason": "regulator request 7"});
    let r = post(&app, "/admin/legal-holds", Some(ADMIN_TOKEN), body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let placed: Value = r.json().await.unwrap();
    let id = placed["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/admin/legal-holds/{id}"));
    assert_eq!(placed["subject"], json!({"customer_id": customer}));

    let list: Value = app
        .client
        .get(app.url("/admin/legal-holds"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["legal_holds"][0]["id"], id.as_str());
    assert_eq!(list["legal_holds"][0]["reason"], "regulator request 7");

    let lift = |app: &TestApp| {
        app.client
            .delete(app.url(&location))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    assert_eq!(lift(&app).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(lift(&app).await.unwrap().status(), StatusCode::NOT_FOUND);

    let events = audit_kinds(&app, &id).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["legal_hold_placed", "legal_hold_lifted"]);
    for (_, detail) in &events {
        assert_eq!(detail["subject"], json!({"customer_id": customer}));
        assert!(detail["by"].as_str().unwrap().starts_with("operator:"));
        assert!(!detail.to_string().contains(ADMIN_TOKEN), "never the token");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_hold_without_one_subject_or_a_reason_is_refused_naming_the_member() {
    let app = spawn_app().await;
    for (body, pointer) in [
        (json!({"subject": {}, "reason": "case"}), "/subject"),
        (
            json!({"subject": {"user_id": "u", "customer_id": "c"}, "reason": "case"}),
            "/subject",
        ),
        (
            json!({"subject": {"user_id": "u1"}, "reason": ""}),
            "/reason",
        ),
    ] {
        let r = post(&app, "/admin/legal-holds", Some(ADMIN_TOKEN), body).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
    }
    let list: Value = app
        .client
        .get(app.url("/admin/legal-holds"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["legal_holds"], json!([]), "nothing half-written");
    app.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_over_http_reports_every_policy_and_changes_nothing() {
    let app = spawn_app().await;
    let login = audit_event(&app.state, "u_http", "a1", 400).await;
    let r = post(
        &app,
        "/admin/retention/run",
        Some(ADMIN_TOKEN),
        json!({"dry_run": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["dry_run"], true);
    let policies = report["policies"].as_array().unwrap();
    let ip = policies
        .iter()
        .find(|p| p["policy"] == "audit_ip_hashes")
        .unwrap();
    assert!(ip["due"].as_u64().unwrap() >= 1, "{ip}");
    assert_eq!(ip["anonymised"], 0);
    assert_eq!(ip["via"], "index");
    let sessions = policies.iter().find(|p| p["policy"] == "sessions").unwrap();
    assert_eq!(sessions["via"], "ttl");
    let stored = stored_audit(&app.state, &login).await.unwrap();
    assert_eq!(
        stored.ip_hash.as_deref(),
        Some("iphash"),
        "a dry run changes nothing"
    );
    app.shutdown().await;
}
