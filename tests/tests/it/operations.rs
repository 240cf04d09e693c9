//! Running it: the local stack refuses production and guards its outbox, stops gracefully on
//! SIGTERM, every log line of a request carries its id, and bad input is named in the client's
//! terms.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use rampart_http::RouterOptions;
use rampart_platform::error::ApiError;
use rampart_tests::{embedded_state, settings, spawn_app};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

#[test]
fn rampart_local_refuses_production_with_a_clear_message() {
    let e = rampart_local::refuse_production(&settings(&[("APP_ENV", "production")])).unwrap_err();
    assert!(e.0.contains("refuses APP_ENV=production"), "{e}");
    assert!(rampart_local::refuse_production(&settings(&[("APP_ENV", "development")])).is_ok());
}

async fn outbox_status(bind: &str, force: bool) -> u16 {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let listener = TcpListener::bind(bind).await.unwrap();
    let running = rampart_local::start_with(state, listener, force)
        .await
        .unwrap();
    // Whatever the bind address, this machine reaches it on loopback.
    let url = format!(
        "{}/_local/outbox?to=a@example.com",
        rampart_local::local_url(running.addr)
    );
    let status = reqwest::get(url).await.unwrap().status().as_u16();
    running.shutdown().await;
    status
}

#[tokio::test]
async fn the_outbox_is_served_on_loopback_and_hidden_on_other_binds_unless_forced() {
    assert_eq!(outbox_status("127.0.0.1:0", false).await, 200);
    assert_eq!(
        outbox_status("0.0.0.0:0", false).await,
        404,
        "a wildcard bind exposes the outbox to the network: off"
    );
    assert_eq!(outbox_status("0.0.0.0:0", true).await, 200, "--outbox");
}

#[test]
fn a_wildcard_bind_is_reached_on_loopback() {
    let url = |a: &str| rampart_local::local_url(a.parse().unwrap());
    assert_eq!(url("0.0.0.0:3000"), "http://127.0.0.1:3000");
    assert_eq!(url("[::]:3000"), "http://[::1]:3000");
    assert_eq!(url("192.0.2.7:8080"), "http://192.0.2.7:8080");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_request_lets_it_finish_then_stops() {
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    let signal = rampart_local::shutdown_signal().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = rampart_local::start(state, listener).await.unwrap();
    let addr = running.addr;
    let server = tokio::spawn(rampart_local::run_until(running, signal));

    // A login whose body is still on its way when the signal arrives: in flight.
    let mut conn = login_in_flight(addr).await;

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !server.is_finished(),
        "shutdown waits for the request in flight"
    );

    conn.write_all(IN_FLIGHT_BODY).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");

    let stopped = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stopped within the grace period")
        .unwrap();
    assert!(stopped.is_ok(), "{stopped:?}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting connections"
    );
}

/// The body of `login_in_flight`'s request (a wrong password: 401 once it arrives).
pub(crate) const IN_FLIGHT_BODY: &[u8] =
    br#"{"email":"slow@example.com","password":"not-the-password-1"}"#;

/// A login the server is certainly handling, its body not sent yet: it asks `Expect:
/// 100-continue`, and the server answers `100 Continue` only once the handler reads the body.
/// No sleep guesses when the request got in. Finish it by writing `IN_FLIGHT_BODY`.
pub(crate) async fn login_in_flight(addr: std::net::SocketAddr) -> TcpStream {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /auth/login HTTP/1.1\r\nhost: local\r\ncontent-type: application/json\r\n\
         expect: 100-continue\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        IN_FLIGHT_BODY.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    conn.read_exact(&mut interim).await.unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn
}

/// A log sink the test reads back.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Captured;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    /// Every line logged so far that carries `request_id`.
    pub(crate) fn lines_of(&self, request_id: &str) -> Vec<Value> {
        self.lines_where(|l| l["request_id"] == request_id)
    }

    /// Every line logged so far that `keep` accepts, in the order they were written.
    pub(crate) fn lines_where(&self, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("every log line is one JSON object"))
            .filter(|l| keep(l))
            .collect()
    }
}

/// The test binary's one global subscriber, capturing every test's lines. A thread-local
/// subscriber is not enough: tracing caches whether a call site is enabled process-wide, and
/// a test running first on another thread without one would disable the request span for all.
pub(crate) fn captured_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        tracing::subscriber::set_global_default(rampart_platform::telemetry::json_subscriber(
            EnvFilter::new("info"),
            logs.clone(),
        ))
        .expect("no other global subscriber in the test binary");
        logs
    })
}

async fn boom() -> Result<(), ApiError> {
    Err(ApiError::internal("disk on fire"))
}

#[tokio::test]
async fn an_error_inside_a_request_logs_its_request_id_and_route() {
    let logs = captured_logs();
    let request_id = format!("req-{}", rampart_platform::crypto::random_id());
    let state = embedded_state(settings(&[]), rampart_platform::clock::system());
    // The route belongs to orders-api's router, as it would in the function.
    let app = rampart_http::finish(
        rampart_http::serves(
            "orders-api",
            Router::new().route("/orders/{id}/boom", get(boom)),
        ),
        &state,
        RouterOptions::default(),
    );
    let resp = app
        .oneshot(
            http::Request::get("/orders/42/boom")
                .header("x-request-id", &request_id)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);

    let lines = logs.lines_of(&request_id);
    let error = lines
        .iter()
        .find(|l| l["message"] == "internal error")
        .unwrap_or_else(|| panic!("no error line in {lines:?}"));
    assert_eq!(error["level"], "ERROR");
    assert_eq!(error["route"], "/orders/{id}/boom");
    assert_eq!(error["function"], "orders-api");
    assert!(error["error"].as_str().unwrap().contains("disk on fire"));
    let access = lines
        .iter()
        .find(|l| l["target"] == "access")
        .expect("access line");
    assert_eq!(access["status"], 500);
}

#[tokio::test]
async fn malformed_bodies_are_named_in_the_clients_terms() {
    let app = spawn_app().await;
    let post = |body: &'static str| {
        app.client
            .post(app.url("/auth/register"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("[]", "", "the body must be an object, got an array"),
        (
            r#"{"email": 5, "password": "long enough passphrase"}"#,
            "/email",
            "`email` must be a string, got a number",
        ),
        (
            r#"{"password": "long enough passphrase"}"#,
            "/email",
            "`email` is required",
        ),
    ];
    for (body, pointer, detail) in cases {
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 422, "{body}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let text = r.text().await.unwrap();
        for rust in ["struct ", "::", "String", "u32", "usize"] {
            assert!(!text.contains(rust), "{body} -> {text}");
        }
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            problem["errors"],
            json!([{ "pointer": pointer, "detail": detail }]),
            "{body}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_status_filter_is_400_not_an_empty_list() {
    let app = spawn_app().await;
    let list = |q: &'static str| {
        app.client
            .get(app.url(&format!("/admin/webhook-events?{q}")))
            .bearer_auth(rampart_tests::ADMIN_TOKEN)
            .send()
    };
    let r = list("status=bogus").await.unwrap();
    assert_eq!(r.status(), 400);
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("`status`"),
        "{problem}"
    );
    assert_eq!(list("status=failed").await.unwrap().status(), 200);
    app.shutdown().await;
}
