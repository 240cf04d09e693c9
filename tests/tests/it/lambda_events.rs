//! Lambda adaptation: API Gateway HTTP API v2 and function URL events fed through the real
//! `lambda_http` adapter (what `lambda_http::run` uses) around our routers.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use bytes::Bytes;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context};
use lambda_runtime::LambdaEvent;
use rampart_http::ClientIp;
use rampart_tests::{embedded_state, settings};
use serde_json::Value;
use tower::ServiceExt;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Feeds an event through the adapter; returns the Lambda response as JSON.
async fn invoke(router: Router, event: &str) -> Value {
    let req: LambdaRequest = serde_json::from_str(event).unwrap();
    let mut ctx = Context::default();
    ctx.request_id = "lambda-req-1".into();
    let adapter: Adapter<'_, _, _> = Adapter::from(rampart_http::lambda::handler(router));
    let resp = adapter.oneshot(LambdaEvent::new(req, ctx)).await.unwrap();
    serde_json::to_value(resp).unwrap()
}

fn body_bytes(resp: &Value) -> Vec<u8> {
    use base64::Engine;
    let body = resp["body"].as_str().unwrap_or_default();
    if resp["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    } else {
        body.as_bytes().to_vec()
    }
}

/// Echoes what a handler sees: cookies, client IP, and a digest of the raw body bytes.
fn echo_router() -> Router {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let echo = |ip: ClientIp, headers: HeaderMap, body: Bytes| async move {
        let cookies: Vec<String> = headers
            .get_all("cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let json = serde_json::json!({
            "cookies": cookies,
            "ip": ip.0.to_string(),
            "sha256": rampart_platform::crypto::sha256_hex(&body),
            "len": body.len(),
        });
        (
            axum::response::AppendHeaders([
                ("set-cookie", "a=1; Path=/; HttpOnly"),
                ("set-cookie", "b=2; Path=/auth"),
            ]),
            axum::Json(json),
        )
    };
    let routes = Router::new()
        .route("/echo", post(echo))
        .route("/ip", get(|ip: ClientIp| async move { ip.0.to_string() }));
    rampart_http::finish(routes, &state, Default::default())
}

#[tokio::test]
async fn http_api_v2_with_a_stage_resolves_the_route() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let resp = invoke(
        auth_api::router(state),
        &fixture("apigw_v2_health_stage.json"),
    )
    .await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let body: Value = serde_json::from_slice(&body_bytes(&resp)).unwrap();
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(
        resp["headers"]["x-request-id"], "lambda-req-1",
        "the Lambda request id is echoed"
    );
    assert_eq!(resp["headers"]["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn cookies_arrive_set_cookie_returns_and_base64_body_is_exact() {
    let resp = invoke(echo_router(), &fixture("apigw_v2_cookies_base64.json")).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let body: Value = serde_json::from_slice(&body_bytes(&resp)).unwrap();
    let raw = std::fs::read(format!(
        "{}/fixtures/raw_body.bin",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(body["len"], raw.len());
    assert_eq!(
        body["sha256"],
        rampart_platform::crypto::sha256_hex(&raw),
        "raw bytes preserved exactly"
    );
    assert_eq!(
        body["cookies"],
        serde_json::json!(["session=abc; csrf_token=def"])
    );
    assert_eq!(
        body["ip"], "198.51.100.23",
        "API Gateway's source IP, not a header"
    );
    let cookies = resp["cookies"]
        .as_array()
        .expect("v2 responses carry a cookies array");
    assert!(cookies.contains(&Value::from("a=1; Path=/; HttpOnly")));
    assert!(cookies.contains(&Value::from("b=2; Path=/auth")));
}

#[tokio::test]
async fn function_url_event_keeps_raw_body_and_source_ip() {
    let resp = invoke(echo_router(), &fixture("function_url_raw_body.json")).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let body: Value = serde_json::from_slice(&body_bytes(&resp)).unwrap();
    let raw = std::fs::read(format!(
        "{}/fixtures/raw_body.bin",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(body["sha256"], rampart_platform::crypto::sha256_hex(&raw));
    assert_eq!(body["ip"], "192.0.2.44");
}

#[tokio::test]
async fn function_url_reaches_the_webhooks_router() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let resp = invoke(
        webhooks_api::router(state),
        &fixture("function_url_webhooks_health.json"),
    )
    .await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let body: Value = serde_json::from_slice(&body_bytes(&resp)).unwrap();
    assert_eq!(
        body["checks"],
        serde_json::json!({"store": "ok", "queue": "ok"})
    );
}

#[tokio::test]
async fn operator_routes_answer_api_gateway_but_not_the_function_url() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let via_url = fixture("function_url_webhooks_health.json")
        .replace("/webhooks/health", "/admin/webhook-events");
    let resp = invoke(webhooks_api::router(state.clone()), &via_url).await;
    assert_eq!(resp["statusCode"], 404, "function URL: {resp}");
    // The same request as API Gateway hands it over: its route key names the matched route.
    let via_api = via_url.replace(
        "\"routeKey\": \"$default\"",
        "\"routeKey\": \"ANY /admin/{proxy+}\"",
    );
    assert!(via_api.contains("ANY /admin/{proxy+}"));
    let resp = invoke(webhooks_api::router(state), &via_api).await;
    assert_eq!(
        resp["statusCode"], 401,
        "HTTP API, no operator token: {resp}"
    );
}

#[tokio::test]
async fn unknown_route_through_lambda_is_problem_json() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let event =
        fixture("apigw_v2_health_stage.json").replace("/prod/auth/health", "/prod/auth/nope");
    let resp = invoke(auth_api::router(state), &event).await;
    assert_eq!(resp["statusCode"], 404);
    assert_eq!(resp["headers"]["content-type"], "application/problem+json");
}

/// A Lambda function's AWS configuration comes from the variables Lambda sets (region,
/// execution-role keys in the environment) without the SDK's default chain; pointed at moto, its
/// clients sign, resolve and reach the service.
#[tokio::test]
async fn a_lambda_function_reaches_aws_with_only_the_variables_lambda_sets() {
    use rampart_platform::secrets::SecretSource;
    let Some(ep) = rampart_tests::aws_endpoint() else {
        eprintln!("skipped: no AWS test endpoint");
        return;
    };
    let (_, table) = rampart_tests::dynamo_table(&ep).await;
    let name = format!("lambda-{}", rampart_platform::crypto::random_id());
    aws_sdk_secretsmanager::Client::new(&rampart_tests::aws_config(&ep).await)
        .create_secret()
        .name(&name)
        .secret_string(r#"{"HASH_PEPPER":"from-moto"}"#)
        .send()
        .await
        .unwrap();

    let lambda_env = |var: &str| match var {
        "AWS_REGION" => Some("us-east-1".to_string()),
        "AWS_ENDPOINT_URL" => Some(ep.clone()),
        _ => None,
    };
    let cfg = rampart_http::lambda::aws_config_from(&lambda_env);
    assert_eq!(cfg.region().map(|r| r.as_ref()), Some("us-east-1"));
    let source = rampart_platform::secrets::aws::SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&cfg),
        &name,
    );
    let loaded = source
        .load()
        .await
        .expect("secret read with the Lambda config");
    assert_eq!(loaded.current["HASH_PEPPER"], "from-moto");
    let tables = aws_sdk_dynamodb::Client::new(&cfg)
        .list_tables()
        .send()
        .await
        .expect("DynamoDB reached with the Lambda config");
    assert!(tables.table_names().contains(&table), "{tables:?}");
}

/// The SDK's HTTP client hands a redirect back to the SDK instead of following it: a signed
/// request never goes to a host it was not signed for.
#[tokio::test]
async fn an_aws_call_answered_with_a_redirect_is_not_followed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let followed = Arc::new(AtomicUsize::new(0));
    let elsewhere = {
        let followed = followed.clone();
        rampart_tests::serve_router(Router::new().fallback(move || {
            followed.fetch_add(1, Ordering::SeqCst);
            async { "{}" }
        }))
        .await
    };
    let redirecting = rampart_tests::serve_router(Router::new().fallback(move || async move {
        (
            axum::http::StatusCode::TEMPORARY_REDIRECT,
            [(axum::http::header::LOCATION, format!("http://{elsewhere}/"))],
        )
    }))
    .await;
    let endpoint = format!("http://{redirecting}");
    let cfg = rampart_http::lambda::aws_config_from(&|var| match var {
        "AWS_REGION" => Some("us-east-1".to_string()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    });
    let cfg = cfg
        .into_builder()
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .build();
    let result = aws_sdk_dynamodb::Client::new(&cfg)
        .list_tables()
        .send()
        .await;
    assert!(result.is_err(), "a 307 is not a table list: {result:?}");
    assert_eq!(
        followed.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

/// The hosts template.yaml allows without a custom domain: the region's execute-api hosts for
/// the HTTP API and its function URL hosts for the webhooks intake. Requests as API Gateway and
/// the function URL hand them over are served; the same events naming another host are refused.
#[tokio::test]
async fn the_hosts_template_yaml_allows_are_served_through_lambda_and_others_are_refused() {
    let allowed = "*.execute-api.us-east-1.amazonaws.com,*.lambda-url.us-east-1.on.aws";
    let state = embedded_state(
        settings(&[("ALLOWED_HOSTS", allowed)]),
        rampart_platform::clock::system(),
    );
    let via_api = fixture("apigw_v2_health_stage.json");
    let via_url = fixture("function_url_webhooks_health.json");
    let resp = invoke(auth_api::router(state.clone()), &via_api).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let resp = invoke(webhooks_api::router(state.clone()), &via_url).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");

    let forged = |event: &str, domain: &str| {
        event.replace(
            &format!("\"host\": \"{domain}\""),
            "\"host\": \"evil.example\"",
        )
    };
    for (router, event) in [
        (
            auth_api::router(state.clone()),
            forged(&via_api, "abc123.execute-api.us-east-1.amazonaws.com"),
        ),
        (
            webhooks_api::router(state.clone()),
            forged(&via_url, "fnurl123.lambda-url.us-east-1.on.aws"),
        ),
    ] {
        assert!(event.contains("evil.example"));
        let resp = invoke(router, &event).await;
        assert_eq!(resp["statusCode"], 400, "{resp}");
        assert_eq!(resp["headers"]["content-type"], "application/problem+json");
        let body: Value = serde_json::from_slice(&body_bytes(&resp)).unwrap();
        assert_eq!(body["type"], "urn:rampart:problem:host-not-allowed");
    }
}
