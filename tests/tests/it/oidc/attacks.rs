//! The attacks on a provider sign-in: an answer without this browser's flow cookie (none,
//! another browser's, a tampered one), a replayed answer, an ID token that is not for us (another
//! audience, issuer or nonce, another key, an unpublished key id, expired, `alg: none`), and a
//! code bound to another PKCE verifier, which the stand-in refuses as the real provider would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::{Fx, Jar, back, fly, problem, urn};

super::on_both_backends!(
    an_answer_without_this_browsers_flow_cookie_is_refused,
    a_replayed_answer_is_refused,
    an_id_token_not_meant_for_us_is_refused,
    a_code_bound_to_another_pkce_verifier_is_refused,
);

const IP: &str = "198.51.100.50";

async fn an_answer_without_this_browsers_flow_cookie_is_refused(fx: Fx) {
    let app = &fx.app;
    let state_invalid = (400, urn("oauth-state-invalid"));
    // No cookie at all (a login CSRF: the attacker's code in the victim's browser).
    let f = fly(app, "google", "delivery=body", "login_hint=mal@example.com").await;
    let r = back(app, &f.callback, &Jar::default(), IP).await;
    assert_eq!(problem(r).await, state_invalid);
    // Another browser's flow cookie with this answer.
    let mine = fly(app, "google", "delivery=body", "login_hint=amy@example.com").await;
    let theirs = fly(app, "google", "delivery=body", "login_hint=mal@example.com").await;
    let r = back(app, &theirs.callback, &mine.jar, IP).await;
    assert_eq!(problem(r).await, state_invalid, "another browser's cookie");
    // This browser's cookie, its `state` rewritten (the MAC no longer holds).
    let f = fly(app, "google", "delivery=body", "login_hint=amy@example.com").await;
    let mut jar = f.jar.clone();
    let value = jar.0["oauth_flow"].clone();
    let (body, mac) = value.split_once('.').unwrap();
    let mut flow: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
    flow["d"] = "body".into();
    flow["s"] = "forged-state".into();
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&flow).unwrap());
    jar.0.insert("oauth_flow".into(), format!("{forged}.{mac}"));
    let callback = f.callback.replace(
        // base64url: the same in a query string.
        &format!("state={}", f.jar_state()),
        "state=forged-state",
    );
    let r = back(app, &callback, &jar, IP).await;
    assert_eq!(problem(r).await, state_invalid, "tampered cookie");
    // A right cookie with a `state` it does not carry.
    let r = back(app, &callback, &f.jar, IP).await;
    assert_eq!(problem(r).await, state_invalid, "forged state");
    // The cookie is for Google; the answer arrives at GitHub's callback.
    let f = fly(app, "google", "delivery=body", "login_hint=amy@example.com").await;
    let crossed = f.callback.replace("/google/callback", "/github/callback");
    let r = back(app, &crossed, &f.jar, IP).await;
    assert_eq!(problem(r).await, state_invalid, "another provider's flow");
}

trait FlowState {
    fn jar_state(&self) -> String;
}

impl FlowState for super::Flight {
    /// The `state` the authorize request carried.
    fn jar_state(&self) -> String {
        let url = reqwest::Url::parse(&self.authorize).unwrap();
        let (_, v) = url.query_pairs().find(|(k, _)| k == "state").unwrap();
        v.into_owned()
    }
}

async fn a_replayed_answer_is_refused(fx: Fx) {
    let app = &fx.app;
    let f = fly(
        app,
        "google",
        "delivery=body",
        "login_hint=rita@example.com",
    )
    .await;
    let first = back(app, &f.callback, &f.jar, IP).await;
    assert_eq!(first.status(), 200, "{:?}", first.text().await);
    let again = back(app, &f.callback, &f.jar, IP).await;
    assert_eq!(problem(again).await, (400, urn("oauth-state-invalid")));
}

async fn an_id_token_not_meant_for_us_is_refused(fx: Fx) {
    let app = &fx.app;
    for mode in [
        "wrong_audience",
        "other_key",
        "unknown_kid",
        "wrong_nonce",
        "wrong_issuer",
        "expired",
        "alg_none",
    ] {
        let knobs = format!("login_hint=victim@example.com&standin_token={mode}");
        let f = fly(app, "google", "delivery=body", &knobs).await;
        // Each from its own address: the callback's per-IP limit is not what answers.
        let ip = format!("198.51.100.{}", 60 + mode.len());
        let r = back(app, &f.callback, &f.jar, &ip).await;
        assert_eq!(
            problem(r).await,
            (401, urn("oauth-token-invalid")),
            "{mode}"
        );
    }
    // Nothing was created for the victim's address.
    let eh = rampart_auth::email_hash(&app.state, "victim@example.com")
        .await
        .unwrap();
    let user = rampart_auth::account::find_by_email(&app.state, &eh)
        .await
        .unwrap();
    assert!(user.is_none());
}

async fn a_code_bound_to_another_pkce_verifier_is_refused(fx: Fx) {
    let app = &fx.app;
    // An attacker's code injected into this browser's flow: the provider bound it to the
    // attacker's challenge, so this flow's verifier does not redeem it (RFC 9700 §4.5).
    let knobs =
        "login_hint=pat@example.com&standin_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    for provider in ["google", "github"] {
        let f = fly(app, provider, "delivery=body", knobs).await;
        let r = back(app, &f.callback, &f.jar, IP).await;
        assert_eq!(
            problem(r).await,
            (401, urn("oauth-token-invalid")),
            "{provider}"
        );
    }
    // And the stand-in itself checks the verifier: the right code with a wrong one is refused.
    let f = fly(app, "google", "delivery=body", "login_hint=pat@example.com").await;
    let callback = reqwest::Url::parse(&f.callback).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let base = super::standin().unwrap();
    let r = app
        .client
        .post(format!("{base}/google/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", &app.url("/auth/oauth/google/callback")),
            ("client_id", "rampart-local-google"),
            ("client_secret", "local-google-client-0123456789abcdef"),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"], "invalid_grant");
}
