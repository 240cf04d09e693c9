//! The route table against the contract: every operation of the committed `openapi.json` reaches,
//! through template.yaml's HTTP API routes (or the function URL, for provider webhooks), the
//! function whose router serves it. The evidence is the function's own access log line for the
//! request (found by its `X-Request-Id`): the route template it matched, and the function whose
//! router matched it (the request span's `function`, from `rampart_http::serves`). Which
//! function should serve an operation is each function crate's own contract (`openapi()`); the
//! product contract `GET /openapi.json` is auth-api's (`auth_api::PRODUCT_CONTRACT`).
//!
//! And every browser-reachable path's CORS preflight reaches a function whose CORS layer
//! answers it for the allowed origins (and not for others).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;

use super::flows::{api, explain, url};
use super::front;
use super::stack::Stack;

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn contract() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(super::template::repo().join("openapi.json")).expect("read"),
    )
    .expect("openapi.json")
}

/// (method, path) -> the function whose own contract names the operation.
fn owners() -> BTreeMap<(String, String), &'static str> {
    let docs = [
        (auth_api::NAME, auth_api::openapi()),
        (webhooks_api::NAME, webhooks_api::openapi()),
        (billing_api::NAME, billing_api::openapi()),
        (customers_api::NAME, customers_api::openapi()),
        (orders_api::NAME, orders_api::openapi()),
        (gdpr_api::NAME, gdpr_api::openapi()),
    ];
    let mut out = BTreeMap::new();
    for (name, doc) in docs {
        let doc = serde_json::to_value(doc).expect("contract");
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for m in METHODS {
                if item.get(*m).is_some() {
                    out.insert((m.to_uppercase(), path.clone()), name);
                }
            }
        }
    }
    out.insert(("GET".into(), "/openapi.json".into()), auth_api::NAME);
    out
}

/// A concrete path for a template (any value matches a `{param}`).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{provider}" => "stripe",
            "{source}" => "mock",
            s if s.starts_with('{') => "x1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

pub async fn every_operation_reaches_its_function(s: &Stack) {
    let owners = owners();
    let routes: Vec<_> = s.specs.iter().flat_map(|f| f.routes.clone()).collect();
    let url_function = s
        .specs
        .iter()
        .find(|f| f.function_url)
        .map(|f| f.logical_id.clone());
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, item) in contract()["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_none() {
                continue;
            }
            let method = m.to_uppercase();
            let op = format!("{method} {path}");
            let Some(owner) = owners.get(&(method.clone(), path.clone())) else {
                wrong.push(format!("{op}: no function's contract names it"));
                continue;
            };
            let target = concrete(path);
            let through_api = front::select(&routes, &method, &target).is_some();
            let request_id = format!("route-table-{}", rampart_platform::crypto::random_id());
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            let req = if through_api {
                api(s, m, &target, "203.0.113.40")
            } else if path.starts_with("/webhooks/") && url_function.is_some() {
                url(s, m, &target, "203.0.113.41")
            } else {
                wrong.push(format!(
                    "{op}: no HTTP API route in template.yaml matches {target}"
                ));
                continue;
            };
            let r = req
                .header("x-request-id", &request_id)
                .send()
                .await
                .expect("request");
            checked += 1;
            let answered = r
                .headers()
                .get("x-harness-function")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(function) = answered.and_then(|a| s.functions.get(&a).cloned()) else {
                wrong.push(format!("{op}: {}", explain(s, r).await));
                continue;
            };
            // The line may still be in the pipe when the answer is here.
            let mut access = None;
            for _ in 0..40 {
                access = function
                    .lines_with("request_id", &request_id)
                    .into_iter()
                    .find(|l| l["target"] == "access");
                if access.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            match &access {
                Some(l) if l["route"] == path.as_str() && l["function"] == *owner => {}
                Some(l) => wrong.push(format!(
                    "{op}: routed to {} whose router matched {} as {} (status {}), expected {owner}",
                    function.name, l["route"], l["function"], l["status"]
                )),
                None => wrong.push(format!(
                    "{op}: {} logged no access line for it ({})",
                    function.name,
                    explain(s, r).await
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} operations do not reach the function that serves them:\n  {}",
        wrong.len(),
        wrong.join("\n  ")
    );
}

pub async fn preflights_reach_the_app(s: &Stack) {
    let allowed = s.template.params["CorsAllowedOrigins"]
        .split(',')
        .next()
        .expect("an origin")
        .to_string();
    let mut wrong = Vec::new();
    for (path, item) in contract()["paths"].as_object().expect("paths") {
        if path.starts_with("/webhooks/") {
            continue; // providers, not browsers: the function URL
        }
        let method = METHODS
            .iter()
            .find(|m| item.get(**m).is_some())
            .expect("a method")
            .to_uppercase();
        let target = concrete(path);
        for (origin, expect_allowed) in [(allowed.as_str(), true), ("https://evil.example", false)]
        {
            let r = api(s, Method::OPTIONS, &target, "203.0.113.42")
                .header("origin", origin)
                .header("access-control-request-method", &method)
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .send()
                .await
                .expect("preflight");
            let acao = r
                .headers()
                .get("access-control-allow-origin")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let ok = r.status().is_success()
                && if expect_allowed {
                    acao.as_deref() == Some(origin)
                        && r.headers()
                            .get("access-control-allow-credentials")
                            .is_some_and(|v| v == "true")
                } else {
                    acao.is_none()
                };
            if !ok {
                wrong.push(format!(
                    "OPTIONS {target} from {origin}: {}",
                    explain(s, r).await
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "CORS preflights that do not get the app's answer:\n  {}",
        wrong.join("\n  ")
    );
}
