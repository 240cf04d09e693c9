//! The calls to a sign-in provider: one HTTP client per process (reqwest on rustls with ring,
//! the tree's one TLS stack), no redirects followed, short timeouts, and answers read up to a
//! bound as JSON. A provider that cannot be reached or answers nonsense is a 502, never a 500.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::provider_error;
use rampart_platform::error::ApiError;

/// A provider answers its token and key endpoints within a second or two; a sign-in waiting
/// longer is better told to try again (Lambda's own timeout must not be what ends it).
const TIMEOUT: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read: a discovery document or a JWKS is a few KiB.
const MAX_BODY: usize = 256 * 1024;

fn http() -> Result<&'static reqwest::Client, ApiError> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            rampart_platform::tls::client_builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(TIMEOUT)
                // A token or key endpoint that redirects is not followed: its answer is what
                // the discovery document names, or nothing (RFC 9700 §4.11).
                .redirect(reqwest::redirect::Policy::none())
                // GitHub's API refuses requests without a User-Agent.
                .user_agent("rampart-auth")
                .build()
                .map_err(|e| tracing::error!(error = %e, "cannot build the sign-in HTTP client"))
                .ok()
        })
        .as_ref()
        .ok_or_else(|| provider_error("no HTTP client"))
}

/// An answer: its status and its JSON body (`Value::Null` when the body is not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

async fn send(req: reqwest::RequestBuilder, what: &str) -> Result<Answer, ApiError> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| provider_error(&format!("{what}: {e}")))?;
    let status = resp.status().as_u16();
    let bytes = read_bounded(resp)
        .await
        .map_err(|why| provider_error(&format!("{what}: {why}")))?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

/// The body, up to `MAX_BODY`, or why not: a declared length is checked before reading, an
/// undeclared one (a chunked answer) chunk by chunk as it arrives, so an endless answer costs
/// at most that much memory before it is refused.
async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    const TOO_LARGE: &str = "answer too large";
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(TOO_LARGE.into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TOO_LARGE.into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// GET `url` (with a Bearer token when given).
pub async fn get(url: &str, bearer: Option<&str>, what: &str) -> Result<Answer, ApiError> {
    let mut req = http()?.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    send(req, what).await
}

/// POST `form` to `url`, form-encoded (RFC 6749 §4.1.3).
pub async fn post_form(url: &str, form: &[(&str, &str)], what: &str) -> Result<Answer, ApiError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http()?
        .post(url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body);
    send(req, what).await
}

/// `url` with the query parameters `params` appended.
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering one request with a chunked body (no Content-Length) of
    /// `chunks` chunks of `chunk` bytes each, or without end when `chunks` is `None`.
    async fn chunked_server(chunk: Vec<u8>, chunks: Option<usize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = sock.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            if sock.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk,
                b"\r\n".to_vec(),
            ]
            .concat();
            let mut sent = 0;
            while chunks.is_none_or(|n| sent < n) {
                // The client hangs up once it has refused the answer.
                if sock.write_all(&framed).await.is_err() {
                    return;
                }
                sent += 1;
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn a_chunked_answer_within_the_bound_is_read() {
        let url = chunked_server(br#"{"keys":[]}"#.to_vec(), Some(1)).await;
        let answer = get(&url, None, "jwks").await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, serde_json::json!({ "keys": [] }));
    }

    #[tokio::test]
    async fn an_endless_chunked_answer_is_refused_once_past_the_bound() {
        let url = chunked_server(vec![b' '; 16 * 1024], None).await;
        let resp = http().unwrap().get(&url).send().await.unwrap();
        // Reading it whole would never end: a bounded read answers at once.
        let read = tokio::time::timeout(Duration::from_secs(10), read_bounded(resp));
        let Err(why) = read.await.expect("the read stops at the bound") else {
            panic!("an endless answer was read");
        };
        assert_eq!(why, "answer too large");
    }
}
