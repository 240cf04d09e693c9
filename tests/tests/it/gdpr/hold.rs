//! Erasure of a legally held user: access ends at once, the data stays (status `held`) while
//! the hold stands, and the erasure finishes once the hold is lifted and it is resumed.

use rampart_store::keys;
use serde_json::{Value, json};

use super::{PW, delete_account, embedded_fx, get_as, partition, seed, some_ip};

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
