//! The account mails link into the app (`APP_URL`, here `https://app.example`): the reset mail
//! to `/reset-password?token=…`, the verification mail to `/verify-email?code=…&email=…`, the
//! values form-encoded; the bare token or code stays in the mail for apps that take it in their
//! own screen, and what the link carries works against the API. Production refuses to start
//! auth-api without an https app URL.

use serde_json::json;

use super::{Fx, RESET_MAIL, VERIFY_MAIL, code_in, newest_mail, post, register, token_in};

super::on_both_backends!(
    the_reset_mail_links_to_the_apps_page_and_its_token_resets_the_password,
    the_verification_mail_links_to_the_apps_page_with_the_address_encoded,
);

/// The link on the mail's line that starts with `lead`, parsed.
fn link_in(mail: &serde_json::Value, lead: &str) -> (String, reqwest::Url) {
    let body = mail["body"].as_str().unwrap();
    let raw = body
        .lines()
        .find_map(|l| l.strip_prefix(lead))
        .unwrap_or_else(|| panic!("no line {lead:?} in {body}"))
        .trim()
        .to_string();
    let url = reqwest::Url::parse(&raw).unwrap();
    (raw, url)
}

fn query(url: &reqwest::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

async fn the_reset_mail_links_to_the_apps_page_and_its_token_resets_the_password((app, _): Fx) {
    let email = "lia@example.com";
    register(&app, email).await;
    let r = post(
        &app,
        "/auth/password/forgot",
        json!({"email": email}),
        "198.51.100.61",
    )
    .await;
    assert_eq!(r.status(), 202);
    let mail = newest_mail(&app, email, RESET_MAIL).await;
    let (_, link) = link_in(&mail, "Or open this link: ");
    assert_eq!(link.origin().ascii_serialization(), "https://app.example");
    assert_eq!(link.path(), "/reset-password");
    let token = query(&link, "token");
    assert_eq!(token, token_in(&mail), "the bare token is in the mail too");
    let r = post(
        &app,
        "/auth/password/reset",
        json!({"token": token, "new_password": "the linked passphrase 7"}),
        "198.51.100.61",
    )
    .await;
    assert_eq!(r.status(), 204, "{:?}", r.text().await);
    let r = post(
        &app,
        "/auth/login",
        json!({"email": email, "password": "the linked passphrase 7", "delivery": "body"}),
        "198.51.100.61",
    )
    .await;
    assert_eq!(r.status(), 200, "the new password signs in");
}

async fn the_verification_mail_links_to_the_apps_page_with_the_address_encoded((app, _): Fx) {
    let email = "kim+links@example.com";
    register(&app, email).await;
    let mail = newest_mail(&app, email, VERIFY_MAIL).await;
    let (raw, link) = link_in(&mail, "Or open this link to confirm it: ");
    assert_eq!(link.origin().ascii_serialization(), "https://app.example");
    assert_eq!(link.path(), "/verify-email");
    assert!(
        raw.ends_with("&email=kim%2Blinks%40example.com"),
        "a + in the address would read as a space unencoded: {raw}"
    );
    let code = query(&link, "code");
    assert_eq!(code, code_in(&mail), "the bare code is in the mail too");
    let r = post(
        &app,
        "/auth/verify-email",
        json!({"email": query(&link, "email"), "code": code}),
        "198.51.100.62",
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["email_verified"], true);
}

#[tokio::test]
async fn production_refuses_to_start_auth_without_the_apps_https_url() {
    let clock = rampart_platform::clock::system();
    let start = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("APP_ENV", "production"),
            ("MAIL_FROM", "no-reply@example.com"),
        ];
        all.extend_from_slice(pairs);
        let state = rampart_tests::embedded_state(rampart_tests::settings(&all), clock.clone());
        auth_api::check_production(&state).map_err(|e| e.0)
    };
    let unset = start(&[]).unwrap_err();
    assert!(unset.starts_with("APP_URL must be set"), "{unset}");
    let http = start(&[("APP_URL", "http://app.example")]).unwrap_err();
    assert!(
        http.starts_with("APP_URL ") && http.contains("\"http://app.example\""),
        "{http}"
    );
    start(&[("APP_URL", "https://app.example")]).expect("the app's https pages start");
}
