//! `rampart-local`: the whole product on one port, on the embedded store (development only).
//! `rampart-local send <provider> <event> [flags]`: a signed provider event to a running stack.

use clap::{Parser, Subcommand};
use rampart_platform::config::Settings;

/// Rampart's local stack: every function's routes on one port, the queue worker and the
/// retention cron in-process, on an embedded SQLite store. Configured by environment variables
/// (see docs/configuration.md); refuses APP_ENV=production.
#[derive(Parser)]
#[command(name = "rampart-local", version)]
struct Cli {
    /// Serve /_local/outbox (login codes, reset links) even on a non-loopback BIND_ADDR.
    #[arg(long)]
    outbox: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Post a correctly signed provider event to a running stack (like `stripe trigger`):
    /// `send <provider> <event> [flags] [--url <base>]`; `send --list` shows every provider,
    /// its events and flags.
    Send {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 1..)]
        args: Vec<String>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let settings = Settings::from_env()?;
    rampart_local::refuse_production(&settings)?;
    rampart_gdpr::retention::policies::effective(&settings, &rampart_local::registry())
        .map_err(|why| format!("RETENTION_POLICIES {why}"))?;
    if let Some(Command::Send { args }) = cli.command {
        return rampart_local::send::run(&args).await;
    }
    rampart_platform::telemetry::init(&settings);
    let data_dir = settings.data_dir.clone();
    let bind = settings.bind_addr;
    let state = rampart_http::AppState::from_settings(
        settings,
        rampart_platform::clock::system(),
        rampart_local::CLIENTS,
    )
    .await?;
    // Load (and on a first start, generate) the secrets now rather than at the first request.
    state.secrets.snapshot().await?;
    // Installed before serving: a SIGTERM from the first moment on is a graceful stop.
    let signal = rampart_local::shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let running = rampart_local::start_with(state.clone(), listener, cli.outbox).await?;
    let shown_dir = std::fs::canonicalize(&data_dir).unwrap_or(data_dir);
    println!(
        "Rampart local stack listening on {}",
        rampart_local::local_url(running.addr)
    );
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
    println!(
        "  health:  curl {}/auth/health",
        rampart_local::local_url(running.addr)
    );
    println!("Ctrl-C or SIGTERM stops it; requests in flight finish first.");
    rampart_local::run_until(running, signal).await?;
    Ok(())
}
