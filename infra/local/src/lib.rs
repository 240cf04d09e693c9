//! The local stack: every function's routes on one port under one set of shared layers, the
//! queue worker and the retention cron in-process, all on the embedded store.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use rampart::AppState;
use rampart::http::{self, RouterOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every function's routes, merged, with the shared layers (what Lambda serves per function).
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(auth_api::routes(state.clone()))
        .merge(webhooks_api::routes(state.clone()))
        .merge(billing_api::routes(state.clone()))
        .merge(orders_api::routes(state.clone()))
        .merge(gdpr_api::routes(state.clone()))
        .merge(local_only(state.clone()));
    http::finish(routes, &state, RouterOptions::default())
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
    let mut tick = tokio::time::interval(state.settings.cron_interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match rampart::retention::run(&state).await {
            Ok(r) if r.expired_items_removed > 0 => {
                tracing::info!(removed = r.expired_items_removed, "retention run")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention run failed"),
        }
    }
}

/// Serves the stack on `listener` and starts the worker and the cron.
pub async fn start(state: AppState, listener: TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let app = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
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
    let worker = tokio::spawn(rampart::jobs::worker_loop(
        state.clone(),
        payments_worker::dispatcher(),
        stop_rx.clone(),
    ));
    let cron = tokio::spawn(cron_loop(state, stop_rx));
    Ok(Running {
        addr,
        stop,
        tasks: vec![server, worker, cron],
    })
}

/// Upper bound on waiting for in-flight work at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(serde::Deserialize)]
struct OutboxQuery {
    to: String,
}

/// `GET /_local/outbox?to=<email>`: mail the local stack "sent" to an address, newest first.
/// Mounted only here, never in Lambda.
async fn outbox(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(q): axum::extract::Query<OutboxQuery>,
) -> Result<axum::Json<Vec<rampart::mail::Mail>>, rampart::ApiError> {
    let outbox = rampart::mail::Outbox::new(state.store.clone(), state.clock.clone(), false);
    Ok(axum::Json(outbox.list(&q.to).await?))
}

fn local_only(state: AppState) -> Router {
    Router::new()
        .route("/_local/outbox", axum::routing::get(outbox))
        .with_state(state)
}
