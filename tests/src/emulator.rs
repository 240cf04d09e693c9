//! A loopback Lambda Runtime API emulator: the four routes a function's runtime client calls
//! (`/next`, `/response`, `/error`, `/init/error`), one instance per spawned process so a killed
//! process's pending long poll can never take the next process's event. Used by the performance
//! harness (`bench/`) and the deployed-shape test (`tests/tests/deployed`), which gives each
//! function its own ARN and its template timeout as the invocation deadline.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

/// What the function answered for one invocation, and when the emulator received it.
#[derive(Debug)]
pub struct Outcome {
    pub request_id: String,
    pub ok: bool,
    pub body: Bytes,
    pub at: Instant,
}

struct Shared {
    /// The ARN handed to the function with each event, and how long each invocation may run
    /// (the `Lambda-Runtime-Deadline-Ms` header: the handed-out time plus this).
    function_arn: String,
    timeout: std::time::Duration,
    /// When the runtime first asked for an event: the end of the function's init phase.
    first_poll: std::sync::Mutex<Option<Instant>>,
    events: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// One emulator: push events with [`Emulator::invoke`], read answers with [`Emulator::outcome`].
pub struct Emulator {
    pub addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: tokio::task::JoinHandle<()>,
    next_id: u64,
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    s.first_poll
        .lock()
        .expect("first poll")
        .get_or_insert_with(Instant::now);
    // Long poll, as the real API does: the runtime waits here until an event is queued.
    let Some((id, event)) = s.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
        + s.timeout.as_millis();
    let arn = s.function_arn.clone();
    for (k, v) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000".into(),
        ),
        ("content-type", "application/json".into()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    }
    (headers, event).into_response()
}

fn report(s: &Shared, request_id: String, ok: bool, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let _ = s.outcomes.send(Outcome {
        request_id,
        ok,
        body,
        at,
    });
    StatusCode::ACCEPTED
}

async fn response(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    report(&s, id, true, body)
}

async fn error(State(s): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    report(&s, id, false, body)
}

async fn init_error(State(s): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    report(&s, "init".into(), false, body)
}

impl Emulator {
    /// The performance harness's emulator: 30 s per invocation, one made-up ARN.
    pub async fn start() -> Self {
        Self::start_with(
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
            std::time::Duration::from_secs(30),
        )
        .await
    }

    /// An emulator for the function `function_arn` whose invocations may run `timeout`.
    pub async fn start_with(function_arn: &str, timeout: std::time::Duration) -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: function_arn.to_string(),
            timeout,
            first_poll: std::sync::Mutex::new(None),
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the emulator");
        let addr = listener.local_addr().expect("emulator address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            shared,
            events: events_tx,
            outcomes: outcomes_rx,
            server,
            next_id: 0,
        }
    }

    /// Queues one event; the function picks it up on its next `/next` poll.
    pub fn invoke(&mut self, event: impl Into<Bytes>) -> String {
        // Unique across every emulator of this process, in the UUID form Lambda's ids take.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        self.next_id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            std::process::id(),
            self.next_id
        );
        let _ = self.events.send((id.clone(), event.into()));
        id
    }

    /// When the runtime first polled `/next`, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.lock().expect("first poll")
    }

    /// An answer already received, if any.
    pub fn try_outcome(&mut self) -> Option<Outcome> {
        self.outcomes.try_recv().ok()
    }

    /// The next answer (response or error), or `None` after `timeout`.
    pub async fn outcome(&mut self, timeout: std::time::Duration) -> Option<Outcome> {
        tokio::time::timeout(timeout, self.outcomes.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}
