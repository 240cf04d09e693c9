//! Secrets Manager backend against moto: cached with a TTL, a rotated value picked up after it,
//! the previous value still offered during the overlap, early refresh for an unknown value.

use std::time::Duration;

use rampart_platform::clock::SharedClock;
use rampart_platform::secrets::Secrets;
use rampart_platform::secrets::aws::SecretsManagerSource;
use rampart_tests::{aws_config, aws_endpoint, manual_clock};

#[tokio::test]
async fn rotation_is_picked_up_after_ttl_and_previous_keeps_verifying() {
    let Some(ep) = aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&aws_config(&ep).await);
    let name = format!("rampart-{}", rampart_platform::crypto::random_id());
    client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"HASH_PEPPER":"v1","N":7}"#)
        .send()
        .await
        .unwrap();
    let clock = manual_clock();
    let shared: SharedClock = clock.clone();
    let secrets = Secrets::new(
        Box::new(SecretsManagerSource::new(client.clone(), &name)),
        shared,
        Duration::from_secs(300),
    )
    .with_min_forced_refresh(Duration::from_secs(5));
    assert_eq!(
        secrets.get("HASH_PEPPER").await.unwrap().as_deref(),
        Some("v1")
    );
    assert_eq!(secrets.get("N").await.unwrap().as_deref(), Some("7"));
    assert_eq!(secrets.versions("HASH_PEPPER").await.unwrap(), vec!["v1"]);

    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"HASH_PEPPER":"v2"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        secrets.get("HASH_PEPPER").await.unwrap().as_deref(),
        Some("v1"),
        "cached until the TTL passes"
    );
    clock.advance(Duration::from_secs(300));
    assert_eq!(
        secrets.get("HASH_PEPPER").await.unwrap().as_deref(),
        Some("v2")
    );
    assert_eq!(
        secrets.versions("HASH_PEPPER").await.unwrap(),
        vec!["v2", "v1"],
        "the previous value keeps verifying during the overlap"
    );

    // A caller asking for a value the cache does not hold triggers an early refresh.
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"HASH_PEPPER":"v3"}"#)
        .send()
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5));
    let v = secrets
        .versions_matching("HASH_PEPPER", |v| v == "v3")
        .await
        .unwrap();
    assert_eq!(v, vec!["v3", "v2"]);
}

#[tokio::test]
async fn missing_secret_is_an_error_not_a_default() {
    let Some(ep) = aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let client = aws_sdk_secretsmanager::Client::new(&aws_config(&ep).await);
    let secrets = Secrets::new(
        Box::new(SecretsManagerSource::new(client, "does-not-exist")),
        rampart_platform::clock::system(),
        Duration::from_secs(300),
    );
    assert!(secrets.get("HASH_PEPPER").await.is_err());
}
