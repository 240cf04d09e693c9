//! The functions' `AWS_ENDPOINT_URL`: a proxy in front of the IAM-enforcing moto that tells the
//! callers apart by the access key in their SigV4 `Authorization` header (each function signs
//! with its own user's key), authorizes every call against that function's template
//! statements (`iam`), records what was used, and forwards it unchanged (the `Host` header
//! included, which the signature covers) for moto to verify the signature and the action. A
//! denied call gets AWS's `AccessDeniedException` answer and is kept for the failure report.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::iam::{self, Names, Usage};

pub struct Principal {
    pub function: String,
    pub statements: Vec<Value>,
    pub usage: Mutex<Usage>,
}

#[derive(Clone)]
pub struct Proxy {
    upstream: String,
    client: reqwest::Client,
    names: Arc<Names>,
    /// Access key id -> the function whose role it stands for.
    principals: Arc<BTreeMap<String, Arc<Principal>>>,
    pub denials: Arc<Mutex<Vec<String>>>,
}

fn credential(auth: &str) -> Option<(String, String)> {
    let cred = auth.split("Credential=").nth(1)?.split(',').next()?;
    let mut parts = cred.split('/');
    let key = parts.next()?.to_string();
    let service = parts.nth(2)?.to_string();
    Some((key, service))
}

fn denied(service: &str, function: &str, what: &str) -> Response {
    let message = format!(
        "User: arn:aws:sts::123456789012:assumed-role/{function}-role/{function} is not authorized to perform: {what}"
    );
    let (status, kind) = if service == "ses" {
        (StatusCode::FORBIDDEN, "AccessDeniedException")
    } else {
        (StatusCode::BAD_REQUEST, "AccessDeniedException")
    };
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        json!({"__type": format!("com.amazonaws.{service}#{kind}"), "message": message, "Message": message})
            .to_string(),
    )
        .into_response()
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some((key, service)) = credential(auth) else {
        p.denials
            .lock()
            .expect("denials")
            .push(format!("an unsigned call to {}", parts.uri));
        return denied("unknown", "anonymous", "an unsigned request");
    };
    let Some(principal) = p.principals.get(&key) else {
        p.denials
            .lock()
            .expect("denials")
            .push(format!("a call signed with an unknown key {key}"));
        return denied(&service, "unknown", "a request with an unknown key");
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok());
    let path = parts.uri.path();
    let requests = match p
        .names
        .requests(&service, target, parts.method.as_str(), path, &body)
    {
        Ok(r) => r,
        Err(why) => {
            let line = format!("{}: {why}", principal.function);
            p.denials.lock().expect("denials").push(line);
            return denied(&service, &principal.function, &why);
        }
    };
    for r in &requests {
        match iam::evaluate(&principal.statements, r) {
            Ok(i) => principal
                .usage
                .lock()
                .expect("usage")
                .record(i, r, &principal.statements),
            Err(why) => {
                let line = format!("{} was denied {}: {why}", principal.function, r.describe());
                p.denials.lock().expect("denials").push(line);
                return denied(&service, &principal.function, &r.describe());
            }
        }
    }
    let pq = parts.uri.path_and_query().map_or("/", |x| x.as_str());
    let mut out = p
        .client
        .request(parts.method.clone(), format!("{}{pq}", p.upstream));
    for (k, v) in &parts.headers {
        if k != "content-length" {
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

impl Proxy {
    pub async fn start(
        upstream: &str,
        names: Names,
        principals: BTreeMap<String, Arc<Principal>>,
    ) -> (String, Self) {
        let proxy = Self {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            names: Arc::new(names),
            principals: Arc::new(principals),
            denials: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the AWS proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, proxy)
    }

    pub fn principals(&self) -> impl Iterator<Item = &Arc<Principal>> {
        self.principals.values()
    }

    pub fn denials(&self) -> Vec<String> {
        self.denials.lock().expect("denials").clone()
    }
}
