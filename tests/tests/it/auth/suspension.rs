//! Operators suspending and reinstating accounts: a suspension ends every session and refresh
//! token at once, refuses every sign-in once the credential is right (never before: a wrong
//! password says 401 as always), and is idempotent; reinstating lets the owner sign in again
//! while the sessions the suspension ended stay ended. Both backends.

use std::time::Duration;

use rampart_auth::{Suspension, User};
use rampart_store::keys;
use rampart_tests::{ADMIN_TOKEN, TestApp};
use serde_json::{Value, json};

use super::{Fx, PW, login_body, login_cookie, me_bearer, post, register, sign_in_code};

super::on_both_backends!(
    a_suspended_users_token_and_refresh_token_stop_working_at_once,
    a_suspended_user_is_refused_sign_in_with_the_right_password_or_code,
    a_wrong_password_on_a_suspended_account_still_says_401,
    suspending_twice_answers_the_standing_suspension_and_reinstating_lets_the_user_in_again,
    suspension_needs_the_operator_a_reason_and_an_existing_user,
);

pub(super) async fn operator(
    app: &TestApp,
    id: &str,
    action: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/admin/users/{id}/{action}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-forwarded-for", "192.0.2.9")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn stored(app: &TestApp, id: &str) -> (User, Option<Suspension>) {
    let (user, item) = rampart_auth::records::load_account(&*app.state.store, id)
        .await
        .unwrap()
        .unwrap();
    let s = Suspension::of(&item);
    (user, s)
}

/// The details of the audit events of `kind` about `subject`.
async fn audited(app: &TestApp, subject: &str, kind: &str) -> Vec<Value> {
    let (pk, _) = keys::audit(subject, 0, "");
    rampart_store::query_all(&*app.state.store, &pk, None)
        .await
        .unwrap()
        .iter()
        .map(|i| rampart_http::audit::AuditEvent::try_from(i).unwrap())
        .filter(|e| e.kind == kind)
        .map(|e| e.detail)
        .collect()
}

async fn problem_type(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let b: Value = r.json().await.unwrap();
    (status, b["type"].as_str().unwrap().to_string())
}

const SUSPENDED: &str = "urn:rampart:problem:account-suspended";

async fn a_suspended_users_token_and_refresh_token_stop_working_at_once((app, _): Fx) {
    let email = "sue@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (access, refresh) = login_body(&app, email, "198.51.100.7").await;
    let jar = login_cookie(&app, email).await;
    assert_eq!(me_bearer(&app, &access).await.status(), 200);
    let gen_before = stored(&app, &id).await.0.session_gen;

    let r = operator(&app, &id, "suspend", json!({"reason": "chargeback fraud"})).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["suspended"], true);
    assert_eq!(b["reason"], "chargeback fraud");
    assert!(b["suspended_by"].as_str().unwrap().starts_with("operator:"));
    let (user, s) = stored(&app, &id).await;
    assert_eq!(s.unwrap().reason, "chargeback fraud");
    assert_eq!(
        user.session_gen,
        gen_before + 1,
        "every session ended with it"
    );
    let audit = audited(&app, &id, "account_suspended").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["reason"], "chargeback fraud");
    assert_eq!(audit[0]["operator"], b["suspended_by"]);

    assert_eq!(me_bearer(&app, &access).await.status(), 401, "bearer");
    let r = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh}),
        "198.51.100.7",
    )
    .await;
    assert_eq!(r.status(), 401, "refresh token");
    let cookie_me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_me.status(), 401, "cookie session");
    let cookie_refresh = app
        .client
        .post(app.url("/auth/refresh"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("csrf_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(cookie_refresh.status(), 401, "refresh cookie");
    app.shutdown().await;
}

async fn a_suspended_user_is_refused_sign_in_with_the_right_password_or_code((app, _): Fx) {
    let email = "sid@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        operator(&app, &id, "suspend", json!({"reason": "abuse"}))
            .await
            .status(),
        200
    );
    let sessions_before = sessions_stored(&app, &id).await;

    let r = post(
        &app,
        "/auth/login",
        json!({"email": email, "password": PW}),
        "198.51.100.8",
    )
    .await;
    assert!(r.headers().get("set-cookie").is_none(), "no session cookie");
    let (status, kind) = problem_type(r).await;
    assert_eq!((status, kind.as_str()), (403, SUSPENDED), "password");

    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "198.51.100.8",
    )
    .await;
    assert_eq!(r.status(), 202);
    let code = sign_in_code(&app, email).await;
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": email, "code": code}),
        "198.51.100.8",
    )
    .await;
    let (status, kind) = problem_type(r).await;
    assert_eq!((status, kind.as_str()), (403, SUSPENDED), "email code");

    assert_eq!(
        sessions_stored(&app, &id).await,
        sessions_before,
        "no session was started"
    );
    let (user, s) = stored(&app, &id).await;
    assert!(s.is_some());
    assert!(user.password_hash.is_some(), "the account is as it was");
    app.shutdown().await;
}

async fn sessions_stored(app: &TestApp, id: &str) -> usize {
    let (pk, _) = keys::user(id);
    rampart_store::query_all(&*app.state.store, &pk, Some(keys::SESSION_PREFIX))
        .await
        .unwrap()
        .len()
}

async fn a_wrong_password_on_a_suspended_account_still_says_401((app, _): Fx) {
    let email = "sam@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        operator(&app, &id, "suspend", json!({"reason": "abuse"}))
            .await
            .status(),
        200
    );
    let wrong = json!({"email": email, "password": "not the password at all"});
    let (status, kind) = problem_type(post(&app, "/auth/login", wrong, "198.51.100.9").await).await;
    assert_eq!(
        (status, kind.as_str()),
        (401, "urn:rampart:problem:unauthorized")
    );
    let r = post(
        &app,
        "/auth/otp/request",
        json!({"email": email}),
        "198.51.100.9",
    )
    .await;
    assert_eq!(r.status(), 202);
    let code = sign_in_code(&app, email).await;
    let wrong_code = if code == "000000" { "000001" } else { "000000" };
    let r = post(
        &app,
        "/auth/otp/verify",
        json!({"email": email, "code": wrong_code}),
        "198.51.100.9",
    )
    .await;
    let (status, kind) = problem_type(r).await;
    assert_eq!(
        status, 401,
        "a wrong code says nothing about the suspension either"
    );
    assert_ne!(kind, SUSPENDED);
    app.shutdown().await;
}

async fn suspending_twice_answers_the_standing_suspension_and_reinstating_lets_the_user_in_again(
    (app, clock): Fx,
) {
    let email = "rey@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (access, refresh) = login_body(&app, email, "198.51.100.10").await;
    let first: Value = operator(&app, &id, "suspend", json!({"reason": "first"}))
        .await
        .json()
        .await
        .unwrap();
    let gen_suspended = stored(&app, &id).await.0.session_gen;
    clock.advance(Duration::from_secs(60));
    let r = operator(&app, &id, "suspend", json!({"reason": "second"})).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again, first, "the standing suspension, unchanged");
    assert_eq!(
        stored(&app, &id).await.0.session_gen,
        gen_suspended,
        "nothing moved"
    );

    let r = operator(
        &app,
        &id,
        "reinstate",
        json!({"reason": "cleared by support"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["suspended"], false);
    assert!(stored(&app, &id).await.1.is_none());
    assert_eq!(
        audited(&app, &id, "account_suspended").await.len(),
        1,
        "once"
    );
    let reinstated = audited(&app, &id, "account_reinstated").await;
    assert_eq!(reinstated.len(), 1);
    assert_eq!(reinstated[0]["reason"], "cleared by support");
    // Sessions the suspension ended stay ended.
    assert_eq!(me_bearer(&app, &access).await.status(), 401);
    let r = post(
        &app,
        "/auth/refresh",
        json!({"refresh_token": refresh}),
        "198.51.100.10",
    )
    .await;
    assert_eq!(r.status(), 401);
    let (access, _) = login_body(&app, email, "198.51.100.10").await;
    assert_eq!(
        me_bearer(&app, &access).await.status(),
        200,
        "signs in again"
    );
    let r = operator(&app, &id, "reinstate", json!({"reason": "again"})).await;
    assert_eq!(
        r.status(),
        200,
        "reinstating a reinstated account answers its state"
    );
    assert_eq!(
        me_bearer(&app, &access).await.status(),
        200,
        "and changes nothing"
    );
    app.shutdown().await;
}

async fn suspension_needs_the_operator_a_reason_and_an_existing_user((app, _): Fx) {
    let email = "opa@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (access, _) = login_body(&app, email, "198.51.100.11").await;
    let url = app.url(&format!("/admin/users/{id}/suspend"));
    let body = json!({"reason": "x"});
    let r = app.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401, "no operator token");
    let r = app
        .client
        .post(&url)
        .bearer_auth(&access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a user's token is no operator's");
    for bad in [
        json!({"reason": ""}),
        json!({"reason": "  "}),
        json!({"reason": "x".repeat(501)}),
        json!({}),
    ] {
        let r = operator(&app, &id, "suspend", bad.clone()).await;
        let (status, _) = problem_type(r).await;
        assert!(status == 422 || status == 400, "{bad}: {status}");
    }
    assert!(
        stored(&app, &id).await.1.is_none(),
        "bad input suspends nothing"
    );
    assert_eq!(me_bearer(&app, &access).await.status(), 200);
    let r = operator(
        &app,
        "0123456789abcdef0123456789abcdef",
        "suspend",
        json!({"reason": "x"}),
    )
    .await;
    assert_eq!(problem_type(r).await.0, 404);
    let r = operator(&app, "no-such-user", "reinstate", json!({"reason": "x"})).await;
    assert_eq!(problem_type(r).await.0, 404);
    let r = operator(&app, &id, "suspend", json!({"reason": "x".repeat(500)})).await;
    assert_eq!(r.status(), 200, "500 characters are allowed");
    app.shutdown().await;
}
