//! Licenses over HTTP, verified the way an instance would: independently of Rampart's signing
//! code, from the published JWKS, with ed25519-dalek's own verification; and with the example a
//! customer instance is given (`crates/billing/examples/verify_license.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Stack, stack};

#[allow(dead_code)]
#[path = "../../../../crates/billing/examples/verify_license.rs"]
mod verify_license_example;

fn decode_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn fetch_license(s: &Stack, key: &str) -> Value {
    let (status, body) = s
        .get_json(s.with_key(Method::GET, "/licenses/current", key))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn fetch_jwks(s: &Stack) -> String {
    let r = s
        .app
        .client
        .get(s.app.url("/licenses/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    r.text().await.unwrap()
}

#[tokio::test]
async fn the_license_verifies_offline_against_the_jwks_and_fails_once_tampered_with() {
    let s = stack().await;
    let c = s.create_customer("license@acme.example", "starter").await;
    let lic = fetch_license(&s, &c.api_key).await;
    let token = lic["license"].as_str().unwrap();
    let jwks_text = fetch_jwks(&s).await;
    let jwks: Value = serde_json::from_str(&jwks_text).unwrap();

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_json(parts[0]);
    assert_eq!(
        header,
        json!({ "alg": "EdDSA", "typ": "JWT", "kid": lic["kid"] })
    );
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    let x: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let public = VerifyingKey::from_bytes(&x).unwrap();
    let sig_bytes: [u8; 64] = URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap()
        .try_into()
        .unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    public
        .verify_strict(signed.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .expect("the license verifies against the JWKS");

    let claims = decode_json(parts[1]);
    assert_eq!(claims["sub"], c.id.as_str());
    assert_eq!(claims["tier"], "starter");
    assert_eq!(claims["limits"]["api_calls_per_day"], 1000);
    assert_eq!(claims["limits"]["private_repos"], 5);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 30 * 86_400);
    assert!((iat - s.now()).abs() <= 5);
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    assert_eq!(lic["expires_at"], exp);

    // An instance upgrading itself: the claims change, the signature no longer matches.
    let mut forged = claims.clone();
    forged["tier"] = json!("enterprise");
    forged["limits"]["api_calls_per_day"] = Value::Null;
    let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
    let forged_signed = format!("{}.{forged_claims}", parts[0]);
    assert!(
        public
            .verify_strict(forged_signed.as_bytes(), &Signature::from_bytes(&sig_bytes))
            .is_err()
    );
    let mut flipped = sig_bytes;
    flipped[10] ^= 0x01;
    assert!(
        public
            .verify_strict(signed.as_bytes(), &Signature::from_bytes(&flipped))
            .is_err()
    );

    // The example a customer instance runs agrees.
    let now = s.now();
    let ok = verify_license_example::verify(token, &jwks_text, now).expect("valid");
    assert_eq!(ok["sub"], c.id.as_str());
    let forged_token = format!("{forged_signed}.{}", parts[2]);
    let why = verify_license_example::verify(&forged_token, &jwks_text, now).unwrap_err();
    assert!(why.contains("signature"), "{why}");
    let expired = verify_license_example::verify(token, &jwks_text, exp + 3600);
    assert!(expired.unwrap_err().contains("expired"));
    s.app.shutdown().await;
}

#[tokio::test]
async fn licenses_are_signed_with_their_own_key_never_the_session_keys() {
    let s = stack().await;
    let c = s.create_customer("keys@acme.example", "pro").await;
    let lic = fetch_license(&s, &c.api_key).await;
    let jwks: Value = serde_json::from_str(&fetch_jwks(&s).await).unwrap();
    // The test secrets name the session key "t1" and the license key "lic1".
    assert_eq!(lic["kid"], "lic1");
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["lic1"]);
    // Nor does a license pass as an access token.
    let r = s
        .app
        .client
        .get(s.app.url("/auth/me"))
        .bearer_auth(lic["license"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.app.shutdown().await;
}

#[tokio::test]
async fn each_customer_gets_only_its_own_license() {
    let s = stack().await;
    let a = s.create_customer("a@lic.example", "enterprise").await;
    let b = s.create_customer("b@lic.example", "free").await;
    let la = fetch_license(&s, &a.api_key).await;
    let lb = fetch_license(&s, &b.api_key).await;
    let sub = |l: &Value| decode_json(l["license"].as_str().unwrap().split('.').nth(1).unwrap());
    assert_eq!(sub(&la)["sub"], a.id.as_str());
    assert_eq!(
        sub(&la)["limits"]["team_members"],
        Value::Null,
        "enterprise: unlimited"
    );
    assert_eq!(sub(&lb)["sub"], b.id.as_str());
    assert_eq!(sub(&lb)["tier"], "free");
    assert_eq!(lb["limits"]["api_calls_per_day"], 100);
    s.app.shutdown().await;
}

#[tokio::test]
async fn license_fetches_are_limited_per_customer() {
    let s = stack().await;
    let a = s.create_customer("busy@lic.example", "pro").await;
    let b = s.create_customer("calm@lic.example", "pro").await;
    for i in 0..60 {
        let r = s
            .with_key(Method::GET, "/licenses/current", &a.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "fetch {i}");
    }
    let r = s
        .with_key(Method::GET, "/licenses/current", &a.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "60 per hour per customer");
    assert!(r.headers().contains_key("retry-after"));
    fetch_license(&s, &b.api_key).await;
    s.app.shutdown().await;
}

#[tokio::test]
async fn the_jwks_is_public_and_limited_per_ip() {
    let s = stack().await;
    let get = |ip: &str| {
        s.app
            .client
            .get(s.app.url("/licenses/jwks.json"))
            .header("x-forwarded-for", ip)
            .send()
    };
    for i in 0..100 {
        assert_eq!(get("192.0.2.9").await.unwrap().status(), 200, "fetch {i}");
    }
    let r = get("192.0.2.9").await.unwrap();
    assert_eq!(r.status(), 429, "100 per 15 minutes per IP");
    assert!(r.headers().contains_key("retry-after"));
    s.app.shutdown().await;
}

#[tokio::test]
async fn billing_api_refuses_to_start_in_production_without_a_strong_license_key() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use rampart_billing::customers::license::check_production;
    use rampart_platform::secrets::Secrets;
    use rampart_platform::secrets::local::LocalSource;

    let check = |value: Option<String>| async move {
        let clock = rampart_platform::clock::system();
        let values: BTreeMap<String, String> = value
            .map(|v| ("LICENSE_SIGNING_KEY".to_string(), v))
            .into_iter()
            .collect();
        let secrets = Arc::new(Secrets::new(
            Box::new(LocalSource::from_map(values)),
            clock.clone(),
            std::time::Duration::from_secs(60),
        ));
        let db = rampart_store_sqlite::Db::in_memory().unwrap();
        let state = rampart_http::AppState::new(
            rampart_tests::settings(&[("APP_ENV", "production")]),
            Arc::new(rampart_store_sqlite::SqliteStore::new(
                db.clone(),
                clock.clone(),
            )),
            Arc::new(rampart_store_sqlite::SqliteQueue::new(
                db,
                clock.clone(),
                "q",
                3,
            )),
            secrets,
            clock,
        );
        check_production(&state).await.map_err(|e| e.0)
    };
    let missing = check(None).await.unwrap_err();
    assert!(
        missing.contains("LICENSE_SIGNING_KEY is missing"),
        "{missing}"
    );
    let zeros = format!("lic1:{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
    let weak = check(Some(zeros)).await.unwrap_err();
    assert!(weak.contains("key lic1"), "{weak}");
    let short = check(Some("lic1:c2hvcnQ".into())).await.unwrap_err();
    assert!(short.contains("32 bytes"), "{short}");
    let strong = format!("lic1:{}", rampart_platform::crypto::random_token(32));
    check(Some(strong)).await.expect("a strong key starts");
}

#[tokio::test]
async fn during_a_license_key_rotation_both_keys_are_published_and_the_first_signs() {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use rampart_billing::customers::{admin, license};

    let clock = rampart_platform::clock::system();
    let (new, old) = (
        rampart_platform::crypto::random_token(32),
        rampart_platform::crypto::random_token(32),
    );
    let values = BTreeMap::from([
        (
            "LICENSE_SIGNING_KEY".to_string(),
            format!("lic2:{new},lic1:{old}"),
        ),
        (
            "HASH_PEPPER".to_string(),
            rampart_platform::crypto::random_token(32),
        ),
    ]);
    let secrets = Arc::new(rampart_platform::secrets::Secrets::new(
        Box::new(rampart_platform::secrets::local::LocalSource::from_map(
            values,
        )),
        clock.clone(),
        std::time::Duration::from_secs(60),
    ));
    let db = rampart_store_sqlite::Db::in_memory().unwrap();
    let state = rampart_http::AppState::new(
        rampart_tests::settings(&[]),
        Arc::new(rampart_store_sqlite::SqliteStore::new(
            db.clone(),
            clock.clone(),
        )),
        Arc::new(rampart_store_sqlite::SqliteQueue::new(
            db,
            clock.clone(),
            "q",
            3,
        )),
        secrets,
        clock,
    );
    let by = rampart_auth::operator::Admin {
        who: "operator:test".into(),
        ip: None,
        limits: Default::default(),
    };
    let req = admin::NewCustomer {
        email: "rot@lic.example".into(),
        company_name: "Acme".into(),
        tier: "pro".into(),
    };
    let (customer, _) = admin::create(&state, &by, &req).await.unwrap();
    let jwks = license::jwks(&state).await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["lic2", "lic1"], "both published, the signer first");
    let issued = license::issue(&state, &customer.id).await.unwrap();
    assert_eq!(issued.kid, "lic2");
    let now = rampart_platform::clock::system().now_secs();
    verify_license_example::verify(&issued.token, &jwks.to_string(), now).expect("verifies");
}
