//! Erasure of a legally held user: access ends at once, the data stays (status `held`) while
//! the hold stands, and the erasure finishes once the hold is lifted and it is resumed: by the
//! next retention run of any kind, an operator's `POST /admin/retention/run` included.

use rampart_store::keys;
use serde_json::{Value, json};

use super::{
    Fx, PW, delete_account, dynamo_fx, embedded_fx, get_as, partition, post_json, seed, some_ip,
};

rampart_tests::on_backends!(super::embedded_fx, super::dynamo_fx;
    a_held_erasure_finishes_at_the_next_operator_retention_run_once_the_hold_is_lifted,
);

/// `POST /admin/retention/run` as the operator: (status, report).
async fn retention_run(app: &rampart_tests::TestApp) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/admin/retention/run"))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn a_held_erasure_finishes_at_the_next_operator_retention_run_once_the_hold_is_lifted(
    fx: Fx,
) {
    let app = &fx.app;
    let u = seed(&fx, "held.run@example.com").await;
    let r = app
        .client
        .post(app.url("/admin/legal-holds"))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .json(&json!({"subject": {"user_id": u.id}, "reason": "litigation 2026-18"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let hold: Value = r.json().await.unwrap();

    let r = delete_account(app, &u.token, PW).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "held", "{body}");
    let id = body["erasure_id"].as_str().unwrap().to_string();

    // A run while the hold stands looks at the erasure and leaves it held, data and all.
    let (status, report) = retention_run(app).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["erasures_resumed"], 1, "{report}");
    assert_eq!(super::admin_view(app, &id).await["status"], "held");
    assert!(!partition(app, &keys::user(&u.id).0).await.is_empty());

    let r = app
        .client
        .delete(app.url(&format!(
            "/admin/legal-holds/{}",
            hold["id"].as_str().unwrap()
        )))
        .bearer_auth(rampart_tests::ADMIN_TOKEN)
        .header("x-forwarded-for", some_ip())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Lifting alone erases nothing: the next run does.
    assert_eq!(super::admin_view(app, &id).await["status"], "held");

    let (status, report) = retention_run(app).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["erasures_resumed"], 1, "{report}");
    let view = super::admin_view(app, &id).await;
    assert_eq!(view["status"], "erased", "{view}");
    assert_eq!(view["steps_pending"], json!([]), "{view}");
    assert!(partition(app, &keys::user(&u.id).0).await.is_empty());
    let login = post_json(
        app,
        "/auth/login",
        None,
        json!({"email": u.email, "password": PW, "delivery": "body"}),
    )
    .await;
    assert_eq!(login.status(), 401, "the account is gone");

    // Finished erasures leave the pending list: the next run has nothing to resume.
    let (_, report) = retention_run(app).await;
    assert_eq!(report["erasures_resumed"], 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_user_loses_access_at_once_and_is_erased_only_after_the_hold_is_lifted() {
    let fx = embedded_fx().await.unwrap();
    let app = &fx.app;
    let u = seed(&fx, "held@example.com").await;
    let admin = |r: reqwest::RequestBuilder| {
        r.bearer_auth(rampart_tests::ADMIN_TOKEN)
            .header("x-forwarded-for", some_ip())
    };
    let r = admin(app.client.post(app.url("/admin/legal-holds")))
        .json(&json!({"subject": {"user_id": u.id}, "reason": "litigation 2026-17"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let hold: Value = r.json().await.unwrap();

    let r = delete_account(app, &u.token, PW).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "held");
    let id = body["erasure_id"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(app, "/auth/me", &u.token).await.status(),
        401,
        "access ends at once"
    );
    assert!(super::login(app, &u.email).await.is_err());
    // The data stays while held.
    assert!(!partition(app, &keys::user(&u.id).0).await.is_empty());
    rampart_gdpr::erasure::resume_pending(&app.state)
        .await
        .unwrap();
    assert_eq!(super::admin_view(app, &id).await["status"], "held");
    assert!(!partition(app, &keys::user(&u.id).0).await.is_empty());

    let hold_id = hold["id"].as_str().unwrap();
    let r = admin(
        app.client
            .delete(app.url(&format!("/admin/legal-holds/{hold_id}"))),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    rampart_gdpr::erasure::resume_pending(&app.state)
        .await
        .unwrap();
    let view = super::admin_view(app, &id).await;
    assert_eq!(view["status"], "erased", "{view}");
    assert!(partition(app, &keys::user(&u.id).0).await.is_empty());
}
