//! Deleting an account with TOTP on through the real routes: the password alone is not enough,
//! the second factor is checked like at sign-in (each code once, a wrong one counted against the
//! sign-in throttle), and a refused request leaves the account whole.

use serde_json::{Value, json};

use super::two_factor::{
    bearer_post, enrolled, first_factor, now_code, second, signed_in_with, wrong_code,
};
use super::{Fx, PW, me_bearer};

super::on_both_backends!(
    deleting_an_account_with_totp_on_needs_a_current_code,
    a_wrong_second_factor_is_refused_and_leaves_the_account_intact,
    erasure_deletes_the_secret_and_the_recovery_codes,
);

/// Signs in with the password and the current code: (access token, user id). The code's step is
/// then used up.
async fn signed_in(fx: &Fx, email: &str, secret: &[u8]) -> (String, String) {
    let token = first_factor(fx, email).await;
    let access = signed_in_with(fx, &token, json!({"code": now_code(fx, secret, 0)})).await;
    let me: Value = me_bearer(&fx.0, &access).await.json().await.unwrap();
    (access, me["id"].as_str().unwrap().to_string())
}

async fn delete(fx: &Fx, access: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"confirm": "DELETE", "password": PW});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = bearer_post(&fx.0, "/account/delete", access, body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The failed attempts counted against the address from unknown clients.
async fn failures(fx: &Fx, email: &str) -> Option<i64> {
    let state = &fx.0.state;
    let eh = rampart_auth::email_hash(state, email).await.unwrap();
    let key = rampart_store::keys::account_failures(&eh);
    let count: Option<rampart_auth::FailureCount> =
        rampart_store::load(&*state.store, &key).await.unwrap();
    count.map(|c| c.failures)
}

async fn intact(fx: &Fx, access: &str, user_id: &str) {
    assert_eq!(
        me_bearer(&fx.0, access).await.status(),
        200,
        "still signed in"
    );
    let (tpk, tsk) = rampart_store::keys::totp(user_id);
    let totp = fx.0.state.store.get(&tpk, &tsk).await.unwrap();
    assert!(totp.is_some(), "the second factor is still there");
}

async fn deleting_an_account_with_totp_on_needs_a_current_code(fx: Fx) {
    let email = "mfa-delete@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    let (access, uid) = signed_in(&fx, email, &secret).await;

    let (status, b) = delete(&fx, &access, json!({})).await;
    assert_eq!(status, 422, "the password alone: {b}");
    assert_eq!(b["errors"][0]["pointer"], "/totp_code");
    let both = json!({"totp_code": now_code(&fx, &secret, 1), "recovery_code": "aaaaa-aaaaa"});
    let (status, b) = delete(&fx, &access, both).await;
    assert_eq!(status, 422, "{b}");
    assert_eq!(b["errors"][0]["pointer"], "/recovery_code");
    assert_eq!(
        failures(&fx, email).await,
        None,
        "a missing factor counts nothing"
    );

    let used = json!({"totp_code": now_code(&fx, &secret, 0)});
    let (status, b) = delete(&fx, &access, used).await;
    assert_eq!(status, 403, "the sign-in's code is used up: {b}");
    assert!(b["detail"].as_str().unwrap().contains("totp_code"), "{b}");
    intact(&fx, &access, &uid).await;

    let current = json!({"totp_code": now_code(&fx, &secret, 1)});
    let (status, b) = delete(&fx, &access, current).await;
    assert_eq!(status, 202, "{b}");
    assert_eq!(b["status"], "erased");
    assert_eq!(me_bearer(&fx.0, &access).await.status(), 401);
}

async fn a_wrong_second_factor_is_refused_and_leaves_the_account_intact(fx: Fx) {
    let email = "mfa-delete-wrong@example.com";
    let (_, secret, codes) = enrolled(&fx, email).await;
    let (access, uid) = signed_in(&fx, email, &secret).await;

    let (status, b) = delete(&fx, &access, json!({"totp_code": wrong_code(&fx, &secret)})).await;
    assert_eq!(status, 403, "{b}");
    assert_eq!(
        failures(&fx, email).await,
        Some(1),
        "counted like a sign-in"
    );
    intact(&fx, &access, &uid).await;

    // A wrong password with a right code: refused before the code is used.
    let right = now_code(&fx, &secret, 1);
    let body = json!({"confirm": "DELETE", "password": "not my password", "totp_code": right});
    let r = bearer_post(&fx.0, "/account/delete", &access, body).await;
    assert_eq!(r.status(), 403);
    assert_eq!(failures(&fx, email).await, Some(2));
    let (status, b) = delete(&fx, &access, json!({"recovery_code": "aaaaa-aaaaa"})).await;
    assert_eq!(status, 403, "{b}");
    assert_eq!(failures(&fx, email).await, Some(3));
    intact(&fx, &access, &uid).await;

    // A recovery code is a second factor too (used up like at sign-in).
    let (status, b) = delete(&fx, &access, json!({"recovery_code": codes[0]})).await;
    assert_eq!(status, 202, "{b}");
    assert_eq!(b["status"], "erased");
}

async fn erasure_deletes_the_secret_and_the_recovery_codes(fx: Fx) {
    let email = "mfa-erased@example.com";
    let (_, secret, _) = enrolled(&fx, email).await;
    let token = first_factor(&fx, email).await;
    let r = second(&fx, &token, json!({"mfa_token": ""})).await;
    assert_eq!(r.status(), 422, "an empty token names its field");
    let access = signed_in_with(&fx, &token, json!({"code": now_code(&fx, &secret, 0)})).await;
    let me: Value = me_bearer(&fx.0, &access).await.json().await.unwrap();
    let uid = me["id"].as_str().unwrap().to_string();
    let store = &fx.0.state.store;
    let (pk, _) = rampart_store::keys::user(&uid);
    let (tpk, tsk) = rampart_store::keys::totp(&uid);
    assert!(store.get(&tpk, &tsk).await.unwrap().is_some());
    let code = now_code(&fx, &secret, 1);
    let body = json!({"confirm": "DELETE", "password": PW, "totp_code": code});
    let r = bearer_post(&fx.0, "/account/delete", &access, body).await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "erased");
    assert!(store.get(&tpk, &tsk).await.unwrap().is_none());
    let codes = rampart_store::query_all(
        &**store,
        &pk,
        Some(rampart_store::keys::RECOVERY_CODE_PREFIX),
    )
    .await
    .unwrap();
    assert!(codes.is_empty(), "{codes:?}");
}
