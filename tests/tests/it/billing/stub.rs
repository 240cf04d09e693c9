//! A loopback stand-in for the Stripe endpoints localstripe lacks (Checkout Sessions, Prices,
//! Billing Portal sessions, subscriptions priced by `price` rather than `plan`), answering in
//! Stripe's documented shapes (API version 2024-06-20) and recording every request it receives.
//! Subscriptions and customers a test seeds are answered here (a price change moves the item to
//! the new price, as Stripe's subscription update does); everything else (customers,
//! subscriptions) is forwarded to localstripe when the test command started it, or answered here
//! with a minimal customer.

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
    /// Subscriptions a test seeded (Stripe's `subscription` objects), changed by updates.
    subscriptions: Arc<Mutex<Vec<Value>>>,
    /// Customers a test seeded or the stub created.
    customers: Arc<Mutex<Vec<String>>>,
    /// Customers deleted at Stripe: still answered, as `{"id", "deleted": true}`.
    deleted: Arc<Mutex<Vec<String>>>,
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

    /// Adds a running subscription of `customer` on `price` (one item, `si_<id>`).
    pub fn subscription(&self, id: &str, customer: &str, price: &str, period_end: i64) {
        self.shared.subscriptions.lock().unwrap().push(json!({
            "id": id,
            "object": "subscription",
            "customer": customer,
            "status": "active",
            "cancel_at_period_end": false,
            "metadata": {},
            "items": {"object": "list", "data": [{
                "id": format!("si_{id}"),
                "object": "subscription_item",
                "price": {"id": price, "object": "price"},
                "current_period_end": period_end,
            }]},
        }));
    }

    /// The seeded subscription as it stands now.
    pub fn subscription_now(&self, id: &str) -> Option<Value> {
        let subs = self.shared.subscriptions.lock().unwrap();
        subs.iter().find(|s| s["id"] == id).cloned()
    }

    /// Adds a customer Stripe has deleted (its id still answers, marked deleted).
    pub fn deleted_customer(&self, id: &str) {
        self.shared.deleted.lock().unwrap().push(id.into());
    }

    /// Adds a customer (one a team's own integration made, say).
    pub fn customer(&self, id: &str) {
        self.shared.customers.lock().unwrap().push(id.into());
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

/// `GET|POST /v1/subscriptions/{id}` of a seeded subscription: a read, or an update of
/// `items[0][price]` (the item named by `items[0][id]`) and `cancel_at_period_end`. Others go to
/// localstripe (or 404).
async fn subscription(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let known = s
        .subscriptions
        .lock()
        .unwrap()
        .iter()
        .any(|v| v["id"] == id.as_str());
    if !known {
        return other(State(s), method, uri, headers, body).await;
    }
    record(&s, &method, &uri, &headers, &body);
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "invalid_request_error", "");
    }
    if let Some(v) = replayed(&s, &headers) {
        return axum::Json(v).into_response();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut subs = s.subscriptions.lock().unwrap();
    let sub = subs.iter_mut().find(|v| v["id"] == id.as_str()).unwrap();
    if method == Method::POST {
        if let Some(price) = f("items[0][price]") {
            let item = &mut sub["items"]["data"][0];
            if f("items[0][id]").as_deref() != item["id"].as_str() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "items[0][id]",
                );
            }
            item["price"] = json!({"id": price, "object": "price"});
        }
        if let Some(c) = f("cancel_at_period_end") {
            sub["cancel_at_period_end"] = json!(c == "true");
        }
    }
    let v = sub.clone();
    drop(subs);
    if method == Method::POST {
        remember(&s, &headers, &v);
    }
    axum::Json(v).into_response()
}

/// `POST /v1/billing_portal/sessions`: a session for a customer, with its one-time URL.
async fn portal(
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
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let f = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let id = format!("bps_{}", rampart_platform::crypto::random_id());
    axum::Json(json!({
        "id": id,
        "object": "billing_portal.session",
        "customer": f("customer"),
        "return_url": f("return_url"),
        "livemode": false,
        "url": format!("https://billing.stripe.com/p/session/test_{id}"),
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
        let id = format!("cus_{}", rampart_platform::crypto::random_id());
        let v = json!({
            "id": id,
            "object": "customer",
            "email": email,
        });
        s.customers.lock().unwrap().push(id);
        remember(&s, &headers, &v);
        return axum::Json(v).into_response();
    }
    if method == Method::GET
        && let Some(id) = uri.path().strip_prefix("/v1/customers/")
        && s.deleted.lock().unwrap().iter().any(|c| c == id)
    {
        return axum::Json(json!({"id": id, "object": "customer", "deleted": true}))
            .into_response();
    }
    if method == Method::GET
        && let Some(id) = uri.path().strip_prefix("/v1/customers/")
        && s.customers.lock().unwrap().iter().any(|c| c == id)
    {
        return axum::Json(json!({"id": id, "object": "customer"})).into_response();
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
        .route(
            "/v1/subscriptions/{id}",
            get(subscription).post(subscription),
        )
        .route("/v1/billing_portal/sessions", post(portal))
        .fallback(other)
        .with_state(shared.clone());
    let addr = rampart_tests::serve_router(router).await;
    Stub {
        base: format!("http://{addr}"),
        shared,
    }
}
