//! `cargo run -p rampart-local`: the whole product on one port, on the embedded store.
//! `cargo run -p rampart-local -- send stripe <event-type> --user <id>`: a signed test event.

use rampart::config::Settings;

mod send;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("send") {
        return send::run(&args[1..]).await;
    }
    let settings = Settings::from_env()?;
    rampart::telemetry::init(&settings);
    let data_dir = settings.data_dir.clone();
    let bind = settings.bind_addr;
    let state = rampart::AppState::from_settings(settings, rampart::clock::system()).await?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let running = rampart_local::start(state.clone(), listener).await?;
    let shown_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    println!("Rampart local stack listening on http://{}", running.addr);
    println!(
        "  store:   {} ({})",
        shown_dir.join("rampart.db").display(),
        state.store.backend()
    );
    println!(
        "  secrets: {} ({})",
        shown_dir.join("dev-secrets.json").display(),
        state.secrets.backend()
    );
    println!("  health:  curl http://{}/auth/health", running.addr);
    println!("Ctrl-C stops it; requests in flight finish first.");
    tokio::signal::ctrl_c().await?;
    println!("Shutting down...");
    if tokio::time::timeout(rampart_local::SHUTDOWN_GRACE, running.shutdown())
        .await
        .is_err()
    {
        eprintln!("in-flight work did not finish within the grace period");
    }
    Ok(())
}
