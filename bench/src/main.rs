//! `rampart-perf` (run by `scripts/bench`, after `start_peers`): builds the release binaries,
//! runs each function under the loopback Lambda Runtime API emulator with its AWS calls going to
//! moto through a counting proxy, loads the local stack with wrk, times the in-process handler,
//! and prints one table. Timings on a shared machine are noisy: compare ratios within one run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rampart_perf::emulator::Emulator;
use rampart_perf::fixtures::{self, STRIPE_SECRET, apigw_v2, stripe_delivery};
use rampart_perf::load;
use rampart_perf::proxy::CountingProxy;
use rampart_perf::stats::{mib, ms, percentile, status_kib, us};

const FUNCTIONS: [&str; 7] = [
    "webhooks-api",
    "auth-api",
    "billing-api",
    "orders-api",
    "gdpr-api",
    "payments-worker",
    "cleanup-cron",
];

struct Options {
    spawns: usize,
    warm: usize,
    load_secs: u32,
    build: bool,
    /// Binaries from here instead of building (`--bin-dir`, to compare profile variants).
    bin_dir: Option<PathBuf>,
    /// Only these functions (`--only webhooks-api,auth-api`); the local stack needs all.
    only: Option<Vec<String>>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let num = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let text = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bin_dir = text("--bin-dir").map(PathBuf::from);
    Options {
        spawns: num("--spawns", 15).max(1),
        warm: num("--warm", 200).max(1),
        load_secs: num("--load-secs", 4) as u32,
        build: bin_dir.is_none() && !args.iter().any(|a| a == "--no-build"),
        bin_dir,
        only: text("--only").map(|v| v.split(',').map(str::to_string).collect()),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The release binaries, built in one cargo call (one feature resolution for all of them).
fn build(opts: &Options) -> Result<PathBuf, String> {
    let dir = opts
        .bin_dir
        .clone()
        .unwrap_or_else(|| target_dir().join("release"));
    if !opts.build {
        return Ok(dir);
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--release", "--locked"]);
    for f in FUNCTIONS.iter().chain(&["rampart-local"]) {
        cmd.args(["-p", f]);
    }
    eprintln!("==> {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("the release build failed".into());
    }
    Ok(dir)
}

/// The moto resources a spawned function is pointed at, and the environment that says so.
struct Aws {
    proxy: CountingProxy,
    env: Vec<(String, String)>,
}

async fn aws_setup(endpoint: &str, scratch: &Path) -> Aws {
    let proxy = CountingProxy::start(endpoint).await;
    let cfg = rampart_tests::aws_config(endpoint).await;
    let (_, table) = rampart_tests::dynamo_table(endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let queue = sqs
        .create_queue()
        .queue_name(format!("bench-{}", rampart::crypto::random_id()))
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue url");
    // Every declared secret, generated in its format, as one JSON secret (what production has).
    let mut values: BTreeMap<String, String> = {
        use rampart::secrets::SecretSource;
        let source = rampart::secrets::local::LocalSource::from_env(Some(
            scratch.join("generated-secrets.json"),
        ));
        source.load().await.expect("generated secrets").current
    };
    values.insert("STRIPE_WEBHOOK_SECRET".into(), STRIPE_SECRET.into());
    let secret_id = format!("bench-{}", rampart::crypto::random_id());
    aws_sdk_secretsmanager::Client::new(&cfg)
        .create_secret()
        .name(&secret_id)
        .secret_string(serde_json::to_string(&values).expect("json"))
        .send()
        .await
        .expect("create the secret");
    let env = [
        ("AWS_ENDPOINT_URL", proxy.url.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("TABLE_NAME", table),
        ("QUEUE_URL", queue),
        ("SECRET_ID", secret_id),
        ("APP_ENV", "development".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Aws { proxy, env }
}

fn spawn(bin: &Path, name: &str, emu: &Emulator, aws: &Aws, scratch: &Path) -> Child {
    Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", scratch)
        .env("DATA_DIR", scratch)
        .env("AWS_LAMBDA_RUNTIME_API", emu.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .envs(aws.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The event each function is invoked with: webhooks-api gets a signed Stripe delivery (a new
/// event every time), the other HTTP functions their health route, the worker an empty batch
/// and the cron a scheduled event.
fn event(name: &str) -> String {
    let health = |path: &str| apigw_v2("GET", path, &[], None);
    match name {
        "webhooks-api" => stripe_delivery(&format!("evt_bench_{}", rampart::crypto::random_id())),
        "auth-api" => health("/auth/health"),
        "billing-api" => health("/billing/health"),
        "orders-api" => health("/orders/health"),
        "gdpr-api" => health("/account/health"),
        "payments-worker" => r#"{"Records":[]}"#.into(),
        _ => serde_json::json!({
            "version": "0", "id": "bench", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012",
            "time": "2026-11-30T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}
        })
        .to_string(),
    }
}

fn status_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(|s| s.as_u64()))
        .map(|s| s.to_string())
        .unwrap_or_else(|| "ok".into())
}

#[derive(Default)]
struct FnRow {
    size: u64,
    cold: Vec<Duration>,
    init: Vec<Duration>,
    warm: Vec<Duration>,
    rss_first: u64,
    rss_peak: u64,
    answers: BTreeMap<String, usize>,
}

const WAIT: Duration = Duration::from_secs(15);

/// Cold starts: a fresh process and emulator per spawn, the event queued before the spawn, timed
/// from spawn to the emulator receiving the answer.
async fn cold(bin: &Path, name: &str, aws: &Aws, scratch: &Path, row: &mut FnRow, n: usize) {
    for _ in 0..n {
        let mut emu = Emulator::start().await;
        emu.invoke(event(name));
        let t0 = Instant::now();
        let child = spawn(bin, name, &emu, aws, scratch);
        match emu.outcome(WAIT).await {
            Some(o) => {
                row.cold.push(o.at - t0);
                if let Some(p) = emu.first_poll() {
                    row.init.push(p - t0);
                }
                let key = if o.ok {
                    status_of(&o.body)
                } else {
                    "error".into()
                };
                *row.answers.entry(key).or_default() += 1;
            }
            None => *row.answers.entry("timeout".into()).or_default() += 1,
        }
        stop(child);
    }
}

/// Invokes `events` one after the other on a warm process; returns each latency.
async fn invoke_all(emu: &mut Emulator, events: Vec<String>) -> Vec<Duration> {
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let t0 = Instant::now();
        emu.invoke(e);
        if let Some(o) = emu.outcome(WAIT).await {
            out.push(o.at - t0);
        }
    }
    out
}

struct IntakeRow {
    label: &'static str,
    latencies: Vec<Duration>,
    calls: BTreeMap<String, u64>,
    n: usize,
}

/// One warm process: RSS after the first invoke, warm latency of its event, and for
/// webhooks-api the new-event and duplicate paths with their AWS calls counted.
async fn warm(
    bin: &Path,
    name: &str,
    aws: &Aws,
    scratch: &Path,
    row: &mut FnRow,
    n: usize,
) -> Vec<IntakeRow> {
    let mut emu = Emulator::start().await;
    let child = spawn(bin, name, &emu, aws, scratch);
    invoke_all(&mut emu, vec![event(name)]).await;
    row.rss_first = status_kib(child.id(), "VmRSS:").unwrap_or(0);
    let mut intake = Vec::new();
    if name == "webhooks-api" {
        let _ = aws.proxy.take();
        let news: Vec<String> = (0..n)
            .map(|i| stripe_delivery(&format!("evt_warm_{}_{i}", rampart::crypto::random_id())))
            .collect();
        let lat = invoke_all(&mut emu, news).await;
        intake.push(IntakeRow {
            label: "new event",
            latencies: lat.clone(),
            calls: aws.proxy.take(),
            n,
        });
        row.warm = lat;
        let dup = stripe_delivery(&format!("evt_dup_{}", rampart::crypto::random_id()));
        invoke_all(&mut emu, vec![dup.clone()]).await;
        let _ = aws.proxy.take();
        let lat = invoke_all(&mut emu, vec![dup; n]).await;
        intake.push(IntakeRow {
            label: "duplicate delivery",
            latencies: lat,
            calls: aws.proxy.take(),
            n,
        });
    } else {
        row.warm = invoke_all(&mut emu, (0..n).map(|_| event(name)).collect()).await;
    }
    row.rss_peak = status_kib(child.id(), "VmHWM:").unwrap_or(0);
    stop(child);
    intake
}

fn calls_text(calls: &BTreeMap<String, u64>, n: usize) -> String {
    let total: u64 = calls.values().sum();
    let parts: Vec<String> = calls
        .iter()
        .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64))
        .collect();
    format!("{:.2} ({})", total as f64 / n as f64, parts.join(", "))
}

/// In-process: webhooks-api's router on the embedded in-memory store, driven through the
/// `lambda_http` adapter with API Gateway v2 events (JSON in, JSON out), no network.
async fn in_process(n: usize) -> Vec<(&'static str, Duration, Duration)> {
    let router = fixtures::webhooks_router();
    let mut rows = Vec::new();
    let health = apigw_v2("GET", "/webhooks/health", &[], None);
    let dup = stripe_delivery("evt_inproc_dup");
    fixtures::invoke(&router, &dup).await;
    let news: Vec<String> = (0..n)
        .map(|i| stripe_delivery(&format!("evt_inproc_{i}")))
        .collect();
    for (label, events) in [
        ("GET /webhooks/health", vec![health; n]),
        ("Stripe duplicate delivery", vec![dup; n]),
        ("Stripe new event", news),
    ] {
        let mut lat = Vec::with_capacity(n);
        for e in &events {
            let t0 = Instant::now();
            let resp = fixtures::invoke(&router, e).await;
            lat.push(t0.elapsed());
            assert_eq!(resp["statusCode"], 200, "{label}: {resp}");
        }
        rows.push((label, percentile(&lat, 50.0), percentile(&lat, 99.0)));
    }
    rows
}

fn python_peer() -> &'static str {
    let ok = Command::new("python3")
        .args(["-c", "import aws_lambda_powertools, stripe, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        "available but not wired into this harness yet: not included"
    } else {
        "not included (aws-lambda-powertools, stripe and boto3 are not installed on this machine)"
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!(
        "{} {}, {cores} cores, {cpu}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = options();
    let bins = build(&opts)?;
    let Some(endpoint) = rampart_tests::aws_endpoint() else {
        return Err(
            "RAMPART_TEST_AWS_ENDPOINT is not set: run through scripts/bench (it starts moto)"
                .into(),
        );
    };
    let scratch = std::env::temp_dir().join(format!("rampart-perf-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let aws = aws_setup(&endpoint, &scratch).await;

    let mut rows: Vec<(&str, FnRow)> = Vec::new();
    let mut intake = Vec::new();
    for name in FUNCTIONS {
        if let Some(only) = &opts.only
            && !only.iter().any(|o| o == name)
        {
            continue;
        }
        let bin = bins.join(name);
        let mut row = FnRow {
            size: std::fs::metadata(&bin)?.len(),
            ..FnRow::default()
        };
        eprintln!(
            "==> {name}: {} cold starts, {} warm invokes",
            opts.spawns, opts.warm
        );
        cold(&bin, name, &aws, &scratch, &mut row, opts.spawns).await;
        intake.extend(warm(&bin, name, &aws, &scratch, &mut row, opts.warm).await);
        rows.push((name, row));
    }

    println!("\n## Rampart performance ({})\n", machine());
    println!(
        "Lambda functions (release, stripped) under the loopback Runtime API emulator, AWS = moto via a counting proxy."
    );
    println!(
        "Cold start = spawn -> answer received, {} spawns; warm = {} invokes on one process.\n",
        opts.spawns, opts.warm
    );
    println!(
        "| function | binary | cold p50 | cold p95 | init p50 (spawn → 1st poll) | warm p50 | warm p99 | RSS after 1st invoke | RSS peak | answers (cold) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, r) in &rows {
        let answers: Vec<String> = r.answers.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mib(r.size),
            ms(percentile(&r.cold, 50.0)),
            ms(percentile(&r.cold, 95.0)),
            ms(percentile(&r.init, 50.0)),
            ms(percentile(&r.warm, 50.0)),
            ms(percentile(&r.warm, 99.0)),
            mib(r.rss_first),
            mib(r.rss_peak),
            answers.join(" "),
        );
    }
    println!("\nwebhooks-api intake, warm (AWS calls per request, counted at the proxy):\n");
    println!("| request | p50 | p99 | AWS calls per request |");
    println!("|---|---|---|---|");
    for r in &intake {
        println!(
            "| {} | {} | {} | {} |",
            r.label,
            ms(percentile(&r.latencies, 50.0)),
            ms(percentile(&r.latencies, 99.0)),
            calls_text(&r.calls, r.n),
        );
    }

    println!(
        "\nLocal stack (rampart-local, embedded store, worker running), wrk -t2 -c32 -d{}s:\n",
        opts.load_secs
    );
    if !load::wrk_available() {
        println!("not measured: wrk is not installed (apt-get install wrk)");
    } else if opts.load_secs == 0 || !bins.join("rampart-local").exists() {
        println!("not measured (--load-secs 0, or no rampart-local binary)");
    } else {
        let data = scratch.join("local");
        std::fs::create_dir_all(&data)?;
        let stack = load::LocalStack::start(&bins.join("rampart-local"), &data).await?;
        println!("| load | req/s | CPU per request | p50 | p99 | requests | non-2xx |");
        println!("|---|---|---|---|---|---|---|");
        for (label, distinct) in [
            ("distinct signed events", true),
            ("one event over and over", false),
        ] {
            match load::run(&stack, &scratch, distinct, 32, opts.load_secs) {
                Ok(r) => println!(
                    "| {label} | {:.0} | {} | {} | {} | {} | {} |",
                    r.per_sec,
                    us(r.cpu_per_request),
                    r.p50_ms.map(|v| format!("{v:.2} ms")).unwrap_or_default(),
                    r.p99_ms.map(|v| format!("{v:.2} ms")).unwrap_or_default(),
                    r.requests,
                    r.non_2xx,
                ),
                Err(e) => println!("| {label} | failed: {e} | | | | | |"),
            }
        }
    }

    let n = 2_000;
    println!(
        "\nIn-process (webhooks-api router, lambda_http adapter, API Gateway v2 JSON, embedded in-memory store), {n} requests each:\n"
    );
    println!("| request | p50 | p99 |");
    println!("|---|---|---|");
    for (label, p50, p99) in in_process(n).await {
        println!("| {label} | {} | {} |", us(p50), us(p99));
    }
    println!("\n(criterion's view of the same: cargo bench -p rampart-perf --bench handler)");
    println!(
        "\nPython peer (Powertools idempotency + stripe + boto3): {}",
        python_peer()
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
