//! The two HTTP fronts of the deployed bundle: API Gateway's HTTP API, routing each request by
//! the template's `HttpApi` events into a payload 2.0 event for the function the route names,
//! and the webhooks function URL, handing every request to that one function in the function
//! URL's event shape. Answers are mapped back as those services map them (status, headers,
//! `cookies` as `Set-Cookie`, base64 bodies decoded).
//!
//! Route selection follows the HTTP API rules (API Gateway Developer Guide, "Working with
//! routes for HTTP APIs"): only routes whose method is the request's or `ANY` take part; an
//! exact path wins over one with path variables, which wins over a greedy `{proxy+}`; among
//! greedy routes the longest prefix wins; and a route naming the method wins over `ANY` on the
//! same path. No route: `404 {"message":"Not Found"}`, marked `x-harness-front: no-route`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::lambda::{Failure, Function};
use super::template::{ACCOUNT, REGION, Route};

/// The function URL's id, as its domain would carry it.
pub const URL_ID: &str = "rmprt4hrnsst7xqzd3hmu2kqje0ebtsa";
pub const API_ID: &str = "rmprt7api1";
/// A test may name the caller's address (rate limits are per IP); the front strips it.
pub const SOURCE_IP_HEADER: &str = "x-harness-source-ip";
pub const DEFAULT_SOURCE_IP: &str = "198.51.100.7";

pub fn url_domain() -> String {
    format!("{URL_ID}.lambda-url.{REGION}.on.aws")
}

pub fn api_domain() -> String {
    format!("{API_ID}.execute-api.{REGION}.amazonaws.com")
}

/// The parameters of `path` under `template`, if it matches.
pub fn match_path(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut params = BTreeMap::new();
    for (i, seg) in t.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            let rest = p.get(i..)?.join("/");
            if rest.is_empty() || i != t.len() - 1 {
                return None;
            }
            params.insert(name.to_string(), rest);
            return Some(params);
        }
        let got = p.get(i)?;
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if got.is_empty() {
                return None;
            }
            params.insert(name.to_string(), (*got).to_string());
        } else if seg != got {
            return None;
        }
    }
    (t.len() == p.len()).then_some(params)
}

/// Higher is more specific.
fn specificity(r: &Route) -> (u8, usize, u8) {
    let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    let literal = segs.iter().filter(|s| !s.starts_with('{')).count();
    let kind = if r.path.contains("+}") {
        0
    } else if r.path.contains('{') {
        1
    } else {
        2
    };
    (kind, literal, u8::from(r.method != "ANY"))
}

/// The route API Gateway would pick for `method path`, with its path parameters.
pub fn select<'a>(
    routes: &'a [Route],
    method: &str,
    path: &str,
) -> Option<(&'a Route, BTreeMap<String, String>)> {
    routes
        .iter()
        .filter(|r| r.method == "ANY" || r.method == method)
        .filter_map(|r| match_path(&r.path, path).map(|p| (r, p)))
        .max_by_key(|(r, _)| specificity(r))
}

fn is_text(content_type: Option<&str>) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("x-www-form-urlencoded")
        || ct.contains("javascript")
}

/// A payload 2.0 event (HTTP API) or a function URL event for one request.
pub fn event(
    req_headers: &HeaderMap,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    body: &[u8],
    route: Option<(&Route, &BTreeMap<String, String>)>,
) -> Value {
    let via_url = route.is_none();
    let domain = if via_url { url_domain() } else { api_domain() };
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    let mut source_ip = DEFAULT_SOURCE_IP.to_string();
    for (name, value) in req_headers {
        let v = value.to_str().unwrap_or_default().to_string();
        match name.as_str() {
            "cookie" => cookies.extend(v.split(';').map(|c| c.trim().to_string())),
            "host" => {}
            SOURCE_IP_HEADER => source_ip = v,
            n => {
                let entry = headers.entry(n.to_string()).or_insert(json!(""));
                let joined = match entry.as_str() {
                    Some("") | None => v,
                    Some(prev) => format!("{prev},{v}"),
                };
                *entry = Value::String(joined);
            }
        }
    }
    for (k, v) in [
        ("host", domain.clone()),
        ("x-forwarded-for", source_ip.clone()),
        ("x-forwarded-proto", "https".into()),
        ("x-forwarded-port", "443".into()),
    ] {
        headers.insert(k.into(), Value::String(v));
    }
    let route_key = route.map_or("$default".to_string(), |(r, _)| r.key());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut query = serde_json::Map::new();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw_query).unwrap_or_default();
    for (k, v) in pairs {
        let entry = query.entry(k).or_insert(json!(""));
        let joined = match entry.as_str() {
            Some("") | None => v.to_string(),
            Some(prev) => format!("{prev},{v}"),
        };
        *entry = Value::String(joined);
    }
    let ct = req_headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let (body, b64) = match (body.is_empty(), std::str::from_utf8(body)) {
        (true, _) => (Value::Null, false),
        (false, Ok(text)) if is_text(ct) => (Value::String(text.to_string()), false),
        _ => (Value::String(STANDARD.encode(body)), true),
    };
    let mut e = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": if via_url { "anonymous".to_string() } else { ACCOUNT.to_string() },
            "apiId": if via_url { URL_ID } else { API_ID },
            "domainName": domain,
            "domainPrefix": if via_url { URL_ID } else { API_ID },
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": req_headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": now.as_millis() as u64,
        },
        "isBase64Encoded": b64,
    });
    if !body.is_null() {
        e["body"] = body;
    }
    if !cookies.is_empty() {
        e["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        e["queryStringParameters"] = Value::Object(query);
    }
    if let Some((_, params)) = route.filter(|(_, p)| !p.is_empty()) {
        e["pathParameters"] = json!(params);
    }
    e
}

/// The HTTP answer for a function's payload 2.0 response.
pub fn answer(function: &str, out: Result<Bytes, Failure>) -> Response {
    let failed = |why: String| {
        let mut r = (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "application/json")],
            r#"{"message":"Internal Server Error"}"#,
        )
            .into_response();
        let why: String = why.chars().filter(|c| !c.is_control()).take(2000).collect();
        if let Ok(v) = HeaderValue::from_str(&format!("{function}: {why}")) {
            r.headers_mut().insert("x-harness-failure", v);
        }
        r
    };
    let body = match out {
        Ok(b) => b,
        Err(f) => return failed(f.to_string()),
    };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return failed(format!(
            "not a payload 2.0 response: {}",
            String::from_utf8_lossy(&body)
        ));
    };
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let text = v["body"].as_str().unwrap_or_default();
    let bytes = if v["isBase64Encoded"].as_bool() == Some(true) {
        STANDARD.decode(text).unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    let mut r = Response::builder().status(status);
    for (k, val) in v["headers"].as_object().into_iter().flatten() {
        if let Some(s) = val.as_str() {
            r = r.header(k.as_str(), s);
        }
    }
    for (k, vals) in v["multiValueHeaders"].as_object().into_iter().flatten() {
        for s in vals
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            r = r.header(k.as_str(), s);
        }
    }
    for c in v["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        r = r.header("set-cookie", c);
    }
    r = r.header("x-harness-function", function);
    r.body(Body::from(bytes))
        .unwrap_or_else(|e| failed(format!("bad response: {e}")))
}

#[derive(Clone)]
pub struct Front {
    routes: Arc<Vec<Route>>,
    functions: Arc<BTreeMap<String, Arc<Function>>>,
    /// `Some(function)` for the function URL front.
    url_target: Option<String>,
}

async fn handle(State(front): State<Front>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"message":"Request Entity Too Large"}"#,
        )
            .into_response();
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let (target, route) = match &front.url_target {
        Some(f) => (f.clone(), None),
        None => match select(&front.routes, &method, &path) {
            Some((r, params)) => (r.function.clone(), Some((r.clone(), params))),
            None => {
                let mut r = (
                    StatusCode::NOT_FOUND,
                    [("content-type", "application/json")],
                    r#"{"message":"Not Found"}"#,
                )
                    .into_response();
                r.headers_mut().insert(
                    HeaderName::from_static("x-harness-front"),
                    HeaderValue::from_static("no-route"),
                );
                return r;
            }
        },
    };
    let e = event(
        &parts.headers,
        &method,
        &path,
        &query,
        &body,
        route.as_ref().map(|(r, p)| (r, p)),
    );
    let function = front.functions[&target].clone();
    let out = function.invoke(Bytes::from(e.to_string())).await;
    answer(&target, out)
}

/// Serves the HTTP API (`url_target` `None`) or a function URL on a loopback port.
pub async fn serve(
    routes: Vec<Route>,
    functions: Arc<BTreeMap<String, Arc<Function>>>,
    url_target: Option<String>,
) -> SocketAddr {
    let front = Front {
        routes: Arc::new(routes),
        functions,
        url_target,
    };
    let app = Router::new().fallback(handle).with_state(front);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a front");
    let addr = listener.local_addr().expect("front address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: &str, path: &str) -> Route {
        Route {
            method: method.into(),
            path: path.into(),
            function: path.into(),
        }
    }

    #[test]
    fn routes_are_chosen_as_api_gateway_chooses_them() {
        let routes = vec![
            r("ANY", "/admin/{proxy+}"),
            r("ANY", "/admin/customers"),
            r("ANY", "/admin/customers/{proxy+}"),
            r("GET", "/admin/erasures/{id}"),
            r("GET", "/catalog"),
            r("OPTIONS", "/{proxy+}"),
            r("ANY", "/orders"),
        ];
        let pick = |m: &str, p: &str| select(&routes, m, p).map(|(r, _)| r.key());
        assert_eq!(
            pick("GET", "/admin/customers").unwrap(),
            "ANY /admin/customers"
        );
        assert_eq!(
            pick("GET", "/admin/customers/c1/api-keys").unwrap(),
            "ANY /admin/customers/{proxy+}"
        );
        assert_eq!(
            pick("GET", "/admin/erasures/e1").unwrap(),
            "GET /admin/erasures/{id}"
        );
        assert_eq!(
            pick("POST", "/admin/erasures/e1").unwrap(),
            "ANY /admin/{proxy+}"
        );
        assert_eq!(pick("OPTIONS", "/catalog").unwrap(), "OPTIONS /{proxy+}");
        assert_eq!(pick("OPTIONS", "/orders").unwrap(), "ANY /orders");
        assert_eq!(pick("POST", "/catalog"), None);
        assert_eq!(
            pick("GET", "/orders/x"),
            None,
            "{{proxy+}} needs its own route"
        );
        let (_, params) = select(&routes, "GET", "/admin/customers/c1/x").unwrap();
        assert_eq!(params["proxy"], "c1/x");
    }
}
