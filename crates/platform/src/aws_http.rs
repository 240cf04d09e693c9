//! The HTTP client under every AWS SDK client: reqwest, the one HTTP/1.1 client on rustls + ring
//! that Stripe's calls already use. The SDK's own client (`aws-smithy-http-client`) brings a
//! second hyper client with HTTP/2 (the `h2` crate) and its own TLS glue; DynamoDB, SQS and
//! Secrets Manager all speak HTTP/1.1 JSON, so that code was dead weight in every binary
//! (binary size). The SDK still owns signing, retries, timeouts and stalled-stream
//! protection; this only moves bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// The SDK's [`HttpClient`]: one reqwest client (one connection pool) per distinct pair of
/// connect and read timeouts the SDK asks for, built on first use (root certificates are read
/// then, not at startup).
#[derive(Debug, Clone, Default)]
pub struct ReqwestHttpClient {
    connectors: Arc<Mutex<HashMap<Timeouts, SharedHttpConnector>>>,
}

type Timeouts = (Option<Duration>, Option<Duration>);

/// The client every AWS SDK configuration we build is given (`state::aws_config`,
/// `lambda::aws_config`, the tests): one HTTP client and one TLS stack per binary.
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestHttpClient::default())
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(Connector::new(key)))
            .clone()
    }
}

#[derive(Debug)]
struct Connector {
    client: Result<reqwest::Client, String>,
}

impl Connector {
    fn new((connect, read): Timeouts) -> Self {
        // The SDK sees what the service answered: a redirect is its to judge (an error for these
        // services), never followed here with a request signed for another host.
        let mut builder = crate::tls::client_builder().redirect(reqwest::redirect::Policy::none());
        if let Some(t) = connect {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = read {
            builder = builder.read_timeout(t);
        }
        Self {
            client: builder.build().map_err(|e| e.to_string()),
        }
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| ConnectorError::user(e.into()))?;
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            // Every operation we call sends an in-memory JSON body; a streaming body would need
            // a streaming adapter, which nothing here uses.
            let body = body
                .bytes()
                .map(bytes::Bytes::copy_from_slice)
                .ok_or_else(|| {
                    ConnectorError::user("streaming request bodies are not supported".into())
                })?;
            let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
                .map_err(|e| ConnectorError::user(e.into()))?;
            let mut response = client.execute(request).await.map_err(transport)?;
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let body = response.bytes().await.map_err(transport)?;
            let mut out = http::Response::new(SdkBody::from(body));
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            HttpResponse::try_from(out).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts are timeouts, everything else on the wire (refused, reset, closed early) is an I/O
/// error: both are transient to the SDK's retry classifier, as they are with its own client.
fn transport(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else {
        ConnectorError::io(e.into())
    }
}
