//! A counting proxy in front of moto: every AWS call a spawned function makes goes through it,
//! counted by its operation (`X-Amz-Target`, or the query protocol's `Action`), so the harness
//! reports calls per request without instrumenting the binary under test.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

/// The proxy's address and its counters.
pub struct CountingProxy {
    pub url: String,
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    server: tokio::task::JoinHandle<()>,
}

fn operation(req: &axum::http::Request<()>, body: &[u8]) -> String {
    if let Some(t) = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    let query = req.uri().query().unwrap_or_default().as_bytes();
    form_action(query)
        .or_else(|| form_action(body))
        .unwrap_or_else(|| format!("{} {}", req.method(), req.uri().path()))
}

fn form_action(form: &[u8]) -> Option<String> {
    String::from_utf8_lossy(form)
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
}

async fn forward(State(up): State<Upstream>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let head = axum::http::Request::from_parts(parts.clone(), ());
    let op = operation(&head, &body);
    *up.counts.lock().expect("counts").entry(op).or_default() += 1;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut out = up
        .client
        .request(parts.method.clone(), format!("{}{path}", up.base));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            out = out.header(k, v);
        }
    }
    match out.body(body).send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_else(|_| Bytes::new());
            let mut r = (status, bytes).into_response();
            for (k, v) in &headers {
                if k != "content-length" && k != "transfer-encoding" {
                    r.headers_mut().insert(k, v.clone());
                }
            }
            r
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Self {
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            counts: counts.clone(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            counts,
            server,
        }
    }

    /// The calls counted since the last take, by operation; the counters restart at zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.counts.lock().expect("counts"))
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}
