//! A loopback stand-in for the Stripe endpoints localstripe lacks (Checkout Sessions, Prices),
//! answering in Stripe's documented shapes (API version 2024-06-20) and recording every request
//! it receives. Everything else (customers, subscriptions) is forwarded to localstripe when the
//! test command started it, or answered here with a minimal customer.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// One request that reached "Stripe".
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub authorization: Option<String>,
    /// The form body, decoded.
    pub form: Vec<(String, String)>,
}

impl Call {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Shared {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Idempotency key -> the answer first given (Stripe replays it).
    replays: Arc<Mutex<Vec<(String, Value)>>>,
    forward: Option<String>,
    /// Prices this "account" has: id -> (active, recurring).
    prices: Arc<Mutex<Vec<(String, bool, bool)>>>,
}

pub struct Stub {
    pub base: String,
    shared: Shared,
}

impl Stub {
    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Adds a price (active and recurring unless told otherwise).
    pub fn price(&self, id: &str, active: bool, recurring: bool) {
        self.shared
            .prices
            .lock()
            .unwrap()
            .push((id.into(), active, recurring));
    }
}

fn record(s: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    s.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path: uri.path().to_string(),
        idempotency_key: h("idempotency-key"),
        stripe_version: h("stripe-version"),
        authorization: h("authorization"),
        form: serde_urlencoded::from_bytes(body).unwrap_or_default(),
    });
}

fn error(status: StatusCode, kind: &str, param: &str) -> Response {
    let body = json!({"error": {"type": kind, "param": param, "message": "stub"}});
    (status, axum::Json(body)).into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer sk_"))
}

fn replayed(s: &Shared, headers: &HeaderMap) -> Option<Value> {
    let key = headers.get("idempotency-key")?.to_str().ok()?;
    let replays = s.replays.lock().unwrap();
    replays
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

fn remember(s: &Shared, headers: &HeaderMap, v: &Value) {
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        s.replays.lock().unwrap().push((key.into(), v.clone()));
    }
}

async fn checkout(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, &method, &uri, &headers, &body);
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_request_error", "");
    }
    if let Some(v) = replayed(&s, &headers) {
        return axum::Json(v).into_response();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let id = format!("cs_test_{}", rampart_platform::crypto::random_id());
    let v = json!({
        "id": id,
        "object": "checkout.session",
        "mode": f("mode"),
        "customer": f("customer"),
        "client_reference_id": f("client_reference_id"),
        "status": "open",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "success_url": f("success_url"),
        "cancel_url": f("cancel_url"),
    });
    remember(&s, &headers, &v);
    axum::Json(v).into_response()
}

async fn price(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    record(&s, &method, &uri, &headers, b"");
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_request_error", "");
    }
    let known = s.prices.lock().unwrap().iter().find(|p| p.0 == id).cloned();
    let Some((id, active, recurring)) = known else {
        return error(StatusCode::NOT_FOUND, "invalid_request_error", "price");
    };
    let recurring = recurring.then(|| json!({"interval": "month", "interval_count": 1}));
    axum::Json(json!({
        "id": id,
        "object": "price",
        "active": active,
        "currency": "usd",
        "unit_amount": 2000,
        "recurring": recurring,
        "type": if recurring.is_some() { "recurring" } else { "one_time" },
    }))
    .into_response()
}

/// Customers and subscriptions: localstripe's, or a minimal customer here.
async fn other(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&s, &method, &uri, &headers, &body);
    if let Some(base) = &s.forward {
        let url = format!("{base}{}", uri.path_and_query().map_or("/", |p| p.as_str()));
        let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let mut req = reqwest::Client::new().request(m, url).body(body.to_vec());
        for name in [
            "authorization",
            "content-type",
            "idempotency-key",
            "stripe-version",
        ] {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v.as_bytes());
            }
        }
        let resp = req.send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let bytes = resp.bytes().await.unwrap();
        return (status, [("content-type", "application/json")], bytes).into_response();
    }
    if method == Method::POST && uri.path() == "/v1/customers" {
        if let Some(v) = replayed(&s, &headers) {
            return axum::Json(v).into_response();
        }
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let email = form.iter().find(|(k, _)| k == "email").map(|(_, v)| v);
        let v = json!({
            "id": format!("cus_{}", rampart_platform::crypto::random_id()),
            "object": "customer",
            "email": email,
        });
        remember(&s, &headers, &v);
        return axum::Json(v).into_response();
    }
    error(StatusCode::NOT_FOUND, "invalid_request_error", "path")
}

/// Starts a stub on a loopback port; `forward`: localstripe's base URL.
pub async fn start(forward: Option<String>) -> Stub {
    let shared = Shared {
        forward,
        ..Shared::default()
    };
    let router = Router::new()
        .route("/v1/checkout/sessions", post(checkout))
        .route("/v1/prices/{id}", get(price))
        .fallback(other)
        .with_state(shared.clone());
    let addr = rampart_tests::serve_router(router).await;
    Stub {
        base: format!("http://{addr}"),
        shared,
    }
}
