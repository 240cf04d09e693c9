//! The sign-in flows as a client sees them: a first sign-in creates a verified account, a later
//! one finds the same user by the provider's subject, cookie delivery lands the browser on the
//! app with a session, GitHub counts only the verified primary address, and a provider that is
//! not configured answers 404.

use serde_json::Value;

use super::{
    APP, Fx, Jar, back, fly, identities, location, me, problem, signed_in, standin, state_for, urn,
};

super::on_both_backends!(
    a_first_google_sign_in_creates_a_verified_account_and_a_session,
    a_later_sign_in_finds_the_same_user_by_subject_not_by_address,
    cookie_delivery_sets_the_session_cookies_and_lands_on_the_app,
    github_signs_in_with_the_verified_primary_address,
    the_start_redirects_with_pkce_state_and_nonce_and_a_short_lived_flow_cookie,
);

async fn a_first_google_sign_in_creates_a_verified_account_and_a_session(fx: Fx) {
    let app = &fx.app;
    let token = signed_in(app, "google", "login_hint=grace@example.com").await;
    let profile = me(app, &token).await;
    assert_eq!(profile["email"], "grace@example.com");
    assert_eq!(profile["email_verified"], true);
    let linked = identities(app, profile["id"].as_str().unwrap()).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].provider, "google");
    assert_eq!(linked[0].email, "grace@example.com");
    assert!(linked[0].subject.starts_with('g'), "{:?}", linked[0]);
}

async fn a_later_sign_in_finds_the_same_user_by_subject_not_by_address(fx: Fx) {
    let app = &fx.app;
    let first = signed_in(
        app,
        "google",
        "login_hint=alan@example.com&standin_sub=g-alan",
    )
    .await;
    let id = me(app, &first).await["id"].clone();
    let again = signed_in(
        app,
        "google",
        "login_hint=alan@example.com&standin_sub=g-alan",
    )
    .await;
    assert_eq!(me(app, &again).await["id"], id);
    // The provider now reports another address for the same person: still the same user.
    let moved = signed_in(
        app,
        "google",
        "login_hint=alan@new.example&standin_sub=g-alan",
    )
    .await;
    let profile = me(app, &moved).await;
    assert_eq!(profile["id"], id);
    assert_eq!(
        profile["email"], "alan@example.com",
        "the account keeps its own"
    );
    // Another person at the provider with a fresh address: another account.
    let other = signed_in(
        app,
        "google",
        "login_hint=ida@example.com&standin_sub=g-ida",
    )
    .await;
    assert_ne!(me(app, &other).await["id"], id);
}

async fn cookie_delivery_sets_the_session_cookies_and_lands_on_the_app(fx: Fx) {
    let app = &fx.app;
    let f = fly(
        app,
        "google",
        "redirect=/welcome",
        "login_hint=kay@example.com",
    )
    .await;
    let r = back(app, &f.callback, &f.jar, "198.51.100.41").await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    assert_eq!(location(&r), format!("{APP}/welcome"));
    let set: Vec<&str> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("oauth_flow=;") && c.contains("Max-Age=0")),
        "the flow cookie is cleared: {set:?}"
    );
    assert!(r.headers().get("x-csrf-token").is_some());
    let mut jar = Jar::default();
    jar.absorb(r.headers());
    for name in ["access_token", "refresh_token", "csrf_token", "device"] {
        assert!(jar.0.contains_key(name), "{name}: {set:?}");
    }
    let me = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let b: Value = me.json().await.unwrap();
    assert_eq!(b["email"], "kay@example.com");
}

async fn github_signs_in_with_the_verified_primary_address(fx: Fx) {
    let app = &fx.app;
    let token = signed_in(app, "github", "login=linus@example.com").await;
    let profile = me(app, &token).await;
    // The stand-in lists a verified non-primary noreply address first: not the one taken.
    assert_eq!(profile["email"], "linus@example.com");
    assert_eq!(profile["email_verified"], true);
    let linked = identities(app, profile["id"].as_str().unwrap()).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].provider, "github");
    assert!(
        linked[0].subject.bytes().all(|b| b.is_ascii_digit()),
        "GitHub's numeric id"
    );
    // An unverified primary address is no address at all.
    let r = super::sign_in(
        app,
        "github",
        "login=eve@example.com&standin_verified=false",
    )
    .await;
    assert_eq!(problem(r).await, (403, urn("oauth-email-unverified")));
}

async fn the_start_redirects_with_pkce_state_and_nonce_and_a_short_lived_flow_cookie(fx: Fx) {
    let app = &fx.app;
    let r = app
        .client
        .get(app.url("/auth/oauth/google/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("oauth_flow="), "{cookie}");
    for attr in ["Path=/;", "Max-Age=600", "SameSite=Lax", "HttpOnly"] {
        assert!(cookie.contains(attr), "{attr}: {cookie}");
    }
    let url = reqwest::Url::parse(&location(&r)).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(url.path().ends_with("/google/authorize"), "{url}");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "rampart-local-google");
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["code_challenge"].len(), 43);
    assert!(q["state"].len() >= 43 && q["nonce"].len() >= 43);
    assert_eq!(
        q["redirect_uri"],
        app.url("/auth/oauth/google/callback"),
        "the API's own callback"
    );
    let r = app
        .client
        .get(app.url("/auth/oauth/google/start?redirect=https://evil.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(r).await,
        (400, urn("bad-request")),
        "no open redirect"
    );
}

#[tokio::test]
async fn a_provider_that_is_not_configured_answers_404() {
    // No stand-in needed: nothing is called.
    let base = standin().unwrap_or_else(|| "http://127.0.0.1:9".into());
    let app = rampart_tests::spawn_app_with(state_for(&base, false)).await;
    for path in [
        "/auth/oauth/google/start",
        "/auth/oauth/github/start",
        "/auth/oauth/github/callback?code=c&state=s",
        "/auth/oauth/facebook/start",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(problem(r).await, (404, urn("not-found")), "{path}");
    }
}
