//! A user's own sessions: listing the live ones (with the client class recorded at sign-in and
//! which one is asking), ending one, ending every other one, and a password change that keeps
//! or ends the others. Another user's session is as unknown as a made-up id. Both backends.

use rampart_auth::Session;
use rampart_store::{Update, keys};
use rampart_tests::TestApp;
use serde_json::{Value, json};

use super::{Fx, Jar, PW, login_cookie, me_bearer, post, register};

super::on_both_backends!(
    a_user_lists_their_live_sessions_with_client_class_and_which_is_current,
    ending_one_session_stops_its_tokens_and_another_users_session_is_404,
    ending_the_other_sessions_keeps_the_current_one,
    a_cookie_session_ends_sessions_only_with_the_csrf_header,
    a_password_change_ends_the_other_sessions_unless_asked_not_to,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148";

/// Body-delivery sign-in with a User-Agent: (access, refresh, session id).
async fn sign_in(app: &TestApp, email: &str, ua: &str) -> (String, String, String) {
    let r = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", ua)
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"email": email, "password": PW, "delivery": "body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let access = b["access_token"].as_str().unwrap().to_string();
    let listed = list(app, &access).await;
    let current = listed.iter().find(|s| s["current"] == true).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (access, b["refresh_token"].as_str().unwrap().into(), current)
}

async fn list(app: &TestApp, access: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url("/auth/sessions"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    b["sessions"].as_array().unwrap().clone()
}

async fn end(app: &TestApp, access: &str, id: &str) -> u16 {
    app.client
        .delete(app.url(&format!("/auth/sessions/{id}")))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh(app: &TestApp, token: &str) -> u16 {
    post(
        app,
        "/auth/refresh",
        json!({"refresh_token": token}),
        "198.51.100.20",
    )
    .await
    .status()
    .as_u16()
}

async fn a_user_lists_their_live_sessions_with_client_class_and_which_is_current((app, _): Fx) {
    let email = "lia@example.com";
    let id = register(&app, email).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (web, _, web_id) = sign_in(&app, email, FIREFOX).await;
    let (phone, _, phone_id) = sign_in(&app, email, IPHONE).await;
    let (script, _, script_id) = sign_in(&app, email, "curl/8.5.0").await;
    // A session from before the class was recorded.
    let (pk, sk) = keys::session(&id, &script_id);
    app.state
        .store
        .update(&pk, &sk, Update::new().remove(Session::DEVICE_CLASS), None)
        .await
        .unwrap();
    // A signed-out session is not listed.
    let (gone, _, gone_id) = sign_in(&app, email, FIREFOX).await;
    let r = app
        .client
        .post(app.url("/auth/logout"))
        .bearer_auth(&gone)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let sessions = list(&app, &phone).await;
    let class_of = |sid: &str| {
        sessions
            .iter()
            .find(|s| s["id"] == sid)
            .map(|s| (s["device_class"].clone(), s["current"].clone()))
    };
    assert_eq!(sessions.len(), 3, "{sessions:#?}");
    assert_eq!(class_of(&web_id), Some((json!("browser"), json!(false))));
    assert_eq!(class_of(&phone_id), Some((json!("mobile"), json!(true))));
    assert_eq!(class_of(&script_id), Some((Value::Null, json!(false))));
    assert_eq!(class_of(&gone_id), None);
    for s in &sessions {
        assert!(s["created_at"].as_i64().unwrap() <= s["last_used_at_least"].as_i64().unwrap());
        assert!(s["expires_at"].is_i64());
    }
    let stored: Option<Session> =
        rampart_store::load(&*app.state.store, &keys::session(&id, &web_id))
            .await
            .unwrap();
    assert_eq!(stored.unwrap().device_class.as_deref(), Some("browser"));
    assert_eq!(me_bearer(&app, &web).await.status(), 200);
    assert_eq!(me_bearer(&app, &script).await.status(), 200);
    app.shutdown().await;
}

async fn ending_one_session_stops_its_tokens_and_another_users_session_is_404((app, _): Fx) {
    register(&app, "ann@example.com").await;
    register(&app, "bob@example.com").await;
    let (a1, _, _) = sign_in(&app, "ann@example.com", FIREFOX).await;
    let (a2, a2_refresh, a2_id) = sign_in(&app, "ann@example.com", IPHONE).await;
    let (b1, b1_refresh, b1_id) = sign_in(&app, "bob@example.com", FIREFOX).await;

    assert_eq!(end(&app, &a1, &b1_id).await, 404, "another user's session");
    assert_eq!(end(&app, &a1, "0123456789abcdef").await, 404, "unknown");
    assert_eq!(end(&app, &a1, "x%23y").await, 404, "not an id");
    assert_eq!(
        me_bearer(&app, &b1).await.status(),
        200,
        "bob's session stands"
    );
    assert_eq!(refresh(&app, &b1_refresh).await, 200);

    assert_eq!(end(&app, &a1, &a2_id).await, 204);
    assert_eq!(
        me_bearer(&app, &a2).await.status(),
        401,
        "access token at once"
    );
    assert_eq!(refresh(&app, &a2_refresh).await, 401, "refresh token");
    assert_eq!(end(&app, &a1, &a2_id).await, 404, "already ended");
    assert_eq!(list(&app, &a1).await.len(), 1);
    app.shutdown().await;
}

async fn ending_the_other_sessions_keeps_the_current_one((app, _): Fx) {
    let email = "oli@example.com";
    register(&app, email).await;
    let (keep, keep_refresh, _) = sign_in(&app, email, FIREFOX).await;
    let (o1, o1_refresh, _) = sign_in(&app, email, IPHONE).await;
    let (o2, _, _) = sign_in(&app, email, "curl/8.5.0").await;
    let r = app
        .client
        .post(app.url("/auth/sessions/end-others"))
        .bearer_auth(&keep)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"ended": 2}));
    assert_eq!(me_bearer(&app, &o1).await.status(), 401);
    assert_eq!(me_bearer(&app, &o2).await.status(), 401);
    assert_eq!(refresh(&app, &o1_refresh).await, 401);
    assert_eq!(me_bearer(&app, &keep).await.status(), 200);
    assert_eq!(
        refresh(&app, &keep_refresh).await,
        200,
        "the current one goes on"
    );
    let left = list(&app, &keep).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    app.shutdown().await;
}

async fn a_cookie_session_ends_sessions_only_with_the_csrf_header((app, _): Fx) {
    let email = "cia@example.com";
    register(&app, email).await;
    let (other, _, other_id) = sign_in(&app, email, IPHONE).await;
    let jar: Jar = login_cookie(&app, email).await;
    let delete = |csrf: bool| {
        let mut r = app
            .client
            .delete(app.url(&format!("/auth/sessions/{other_id}")))
            .header("cookie", jar.header());
        if csrf {
            r = r.header("x-csrf-token", jar.get("csrf_token"));
        }
        r.send()
    };
    assert_eq!(delete(false).await.unwrap().status(), 403);
    let r = app
        .client
        .post(app.url("/auth/sessions/end-others"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(me_bearer(&app, &other).await.status(), 200, "nothing ended");
    assert_eq!(delete(true).await.unwrap().status(), 204);
    assert_eq!(me_bearer(&app, &other).await.status(), 401);
    // Listing is a safe method: the cookie alone.
    let r = app
        .client
        .get(app.url("/auth/sessions"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.shutdown().await;
}

async fn a_password_change_ends_the_other_sessions_unless_asked_not_to((app, _): Fx) {
    let email = "pia@example.com";
    register(&app, email).await;
    let (me, _, _) = sign_in(&app, email, FIREFOX).await;
    let (other, _, _) = sign_in(&app, email, IPHONE).await;
    let change = |current: &str, new: &str, end_others: Option<bool>| {
        let mut body = json!({"current_password": current, "new_password": new});
        if let Some(e) = end_others {
            body["end_other_sessions"] = e.into();
        }
        app.client
            .post(app.url("/auth/password/change"))
            .bearer_auth(&me)
            .json(&body)
            .send()
    };
    let second = "a second passphrase that is long";
    assert_eq!(change(PW, second, Some(false)).await.unwrap().status(), 204);
    assert_eq!(
        me_bearer(&app, &other).await.status(),
        200,
        "kept when asked"
    );
    assert_eq!(change(second, PW, None).await.unwrap().status(), 204);
    assert_eq!(
        me_bearer(&app, &other).await.status(),
        401,
        "ended by default"
    );
    assert_eq!(me_bearer(&app, &me).await.status(), 200);
    app.shutdown().await;
}
