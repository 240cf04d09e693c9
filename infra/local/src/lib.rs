//! The local stack: every function's routes on one port under one set of shared layers, the
//! queue worker and the retention cron in-process, all on the embedded store. It is a
//! development tool: it refuses production settings, and serves the mail outbox (login codes,
//! reset links) only on a loopback address unless told otherwise.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use rampart_http::AppState;
use rampart_http::{self as http, RouterOptions};
use rampart_platform::config::Settings;
use rampart_platform::error::StartupError;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod mock_payments;
pub mod send;

/// Every AWS client, with the embedded store and queue for what is not configured: the local
/// stack's (and the tests') clients. No Lambda function names these.
pub const CLIENTS: rampart_http::state::Clients =
    rampart_http::state::Clients::ALL.with_embedded(rampart_store_sqlite::open_embedded);

/// Every domain's registration of its data (the local stack runs every function).
pub fn registry() -> rampart_http::registry::Registry<AppState> {
    gdpr_api::registry()
}

/// The name the local stack's own routes carry in the request span.
pub const NAME: &str = "rampart-local";

/// Every function's routes, merged, with the shared layers (what Lambda serves per function);
/// `outbox` adds `GET /_local/outbox`.
pub fn app(state: AppState, outbox: bool) -> Router {
    rampart_platform::metrics::install("local", false);
    let own = Router::new()
        .route("/_local/metrics", axum::routing::get(metrics))
        .merge(rampart_http::openapi::serve("/openapi.json", openapi));
    let mut routes = http::serves(NAME, own)
        .merge(auth_api::routes(state.clone()))
        .merge(webhooks_api::routes(state.clone()))
        .merge(billing_api::routes(state.clone()))
        .merge(customers_api::routes(state.clone()))
        .merge(orders_api::routes(state.clone()))
        .merge(gdpr_api::routes(state.clone()));
    if outbox {
        routes = routes.merge(http::serves(NAME, local_only(state.clone())));
    }
    http::finish(routes, &state, RouterOptions::default())
}

/// The product's contract: every function's document merged, served at `GET /openapi.json` and
/// committed as `openapi.json` (the `/_local/*` development routes are not part of it).
pub fn openapi() -> rampart_http::openapi::Document {
    rampart_http::openapi::merged(vec![
        auth_api::openapi(),
        webhooks_api::openapi(),
        billing_api::openapi(),
        customers_api::openapi(),
        orders_api::openapi(),
        gdpr_api::openapi(),
    ])
}

/// The refusal `rampart-local` gives production settings: it runs on the embedded store, with
/// generated secrets and an unauthenticated outbox, none of which may serve real traffic.
pub fn refuse_production(settings: &Settings) -> Result<(), StartupError> {
    if settings.is_production() {
        return Err(StartupError(
            "rampart-local is the development stack and refuses APP_ENV=production: deploy the \
             functions with SAM (see docs/deploy.md), or unset APP_ENV to run locally"
                .into(),
        ));
    }
    Ok(())
}

/// Whether `/_local/outbox` is served: never in production; on a loopback address; elsewhere
/// only when asked for explicitly (`--outbox`), since it shows login codes and reset tokens to
/// anyone who can reach the port.
pub fn serve_outbox(settings: &Settings, addr: SocketAddr, forced: bool) -> bool {
    if settings.is_production() {
        return false;
    }
    if addr.ip().is_loopback() {
        return true;
    }
    if forced {
        tracing::warn!(%addr, "serving /_local/outbox on a non-loopback address (--outbox): anyone who can reach it reads login codes and reset links");
    } else {
        tracing::warn!(%addr, "bound to a non-loopback address: /_local/outbox is off (pass --outbox to serve it anyway)");
    }
    forced
}

/// Where a client on this machine reaches a server bound to `addr`: a wildcard address
/// (`0.0.0.0`, `::`) becomes loopback on the same port.
pub fn local_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// A running stack. Dropping it does not stop it; call `shutdown`.
pub struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, then stops the worker and the cron.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn cron_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    // The first run one interval after start, as a schedule in AWS runs on the clock and not at
    // deploy: a run at start would race the stack's first requests, and the webhook sweep is a
    // safety net that nothing right after start may be relying on.
    let every = state.settings.cron_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        // The cleanup-cron function's own handler: the same job as the daily schedule in AWS.
        let event =
            serde_json::json!({ "detail-type": "Scheduled Event", "source": "rampart-local" });
        if let Err(e) = cleanup_cron::handle(&state, event).await {
            tracing::warn!(error = %e, "retention run failed");
        }
    }
}

/// Serves the stack on `listener` and starts the worker and the cron; the outbox follows
/// `serve_outbox` without `--outbox`.
pub async fn start(state: AppState, listener: TcpListener) -> std::io::Result<Running> {
    start_with(state, listener, false).await
}

/// `start`, with `force_outbox` as given by `--outbox`. The binary refuses production settings
/// before it gets here (`refuse_production`); tests may still run the stack on them to see
/// production-only behaviour, without the outbox.
pub async fn start_with(
    state: AppState,
    listener: TcpListener,
    force_outbox: bool,
) -> std::io::Result<Running> {
    let state = state.with_registry(registry());
    let addr = listener.local_addr()?;
    let outbox = serve_outbox(&state.settings, addr, force_outbox);
    let (stop, stop_rx) = watch::channel(false);
    let app = app(state.clone(), outbox).into_make_service_with_connect_info::<SocketAddr>();
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let graceful = async move {
            let _ = server_stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(graceful)
            .await
        {
            tracing::error!(error = %e, "server stopped with an error");
        }
    });
    let worker = tokio::spawn(rampart_http::jobs::worker_loop(
        state.clone(),
        jobs_worker::dispatcher(),
        stop_rx.clone(),
    ));
    let cron = tokio::spawn(cron_loop(state, stop_rx));
    Ok(Running {
        addr,
        stop,
        tasks: vec![server, worker, cron],
    })
}

/// Upper bound on waiting for in-flight requests and the worker's current message at shutdown
/// (container runtimes send SIGKILL 10 s after SIGTERM by default).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Resolves on SIGTERM or Ctrl-C (SIGINT). The handlers are installed when this is called, not
/// when it is first polled, so a signal right after start is not lost.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = &'static str>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = ctrl_c => "Ctrl-C",
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
            "Ctrl-C"
        }
    })
}

/// Runs a started stack until `signal` resolves, then shuts it down gracefully: stop accepting,
/// let in-flight requests and the worker's current message finish (at most `SHUTDOWN_GRACE`).
/// `Err` when the grace period ran out with work still in flight.
pub async fn run_until(
    running: Running,
    signal: impl std::future::Future<Output = &'static str>,
) -> Result<(), StartupError> {
    let which = signal.await;
    tracing::info!(signal = which, "shutting down: finishing in-flight work");
    match tokio::time::timeout(SHUTDOWN_GRACE, running.shutdown()).await {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(())
        }
        Err(_) => Err(StartupError(format!(
            "in-flight work did not finish within {} s",
            SHUTDOWN_GRACE.as_secs()
        ))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxQuery {
    to: String,
}

/// `GET /_local/outbox?to=<email>`: mail the local stack "sent" to an address, newest first.
/// Mounted only here, never in Lambda.
async fn outbox(
    axum::extract::State(state): axum::extract::State<AppState>,
    http::Query(q): http::Query<OutboxQuery>,
) -> Result<axum::Json<Vec<rampart_http::mail::Mail>>, rampart_platform::ApiError> {
    let outbox = rampart_http::mail::Outbox::new(state.store.clone(), state.clock.clone(), false);
    Ok(axum::Json(outbox.list(&q.to).await?))
}

fn local_only(state: AppState) -> Router {
    Router::new()
        .route("/_local/outbox", axum::routing::get(outbox))
        .with_state(state.clone())
        .merge(mock_payments::routes(
            state.clone(),
            webhooks_api::routes(state),
        ))
}

/// `GET /_local/metrics`: the counters Lambda writes as EMF lines, in Prometheus text format.
async fn metrics() -> impl axum::response::IntoResponse {
    let body = rampart_platform::metrics::registry()
        .map(|r| r.prometheus())
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}
