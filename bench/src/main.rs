//! `rampart-perf` (run by `scripts/bench`, after `start_peers`): builds the release binaries,
//! runs each function under the loopback Lambda Runtime API emulator with its AWS calls going to
//! moto through a counting proxy, loads the local stack with wrk, times the in-process handler,
//! runs the Python peer (`bench/peer`) beside webhooks-api when its venv is installed, and prints
//! the tables, then a verdict per performance goal. Timings on a shared machine are noisy:
//! compare ratios within one run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rampart_perf::emulator::Emulator;
use rampart_perf::fixtures::{self, STRIPE_SECRET, apigw_v2, stripe_delivery};
use rampart_perf::load::{self, LoadRun};
use rampart_perf::peer::{self, Peer};
use rampart_perf::proxy::CountingProxy;
use rampart_perf::stats::{mib, ms, percentile, status_kib, us};
use rampart_perf::verdict::{self, Aim, Row, Unit};

const FUNCTIONS: [&str; 8] = [
    "webhooks-api",
    "auth-api",
    "billing-api",
    "customers-api",
    "orders-api",
    "gdpr-api",
    "jobs-worker",
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
    /// Leave the Python peer out even when it is installed (`--no-peer`).
    peer: bool,
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
        peer: !args.iter().any(|a| a == "--no-peer"),
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
    /// moto itself, for set-up calls that are not to be counted.
    endpoint: String,
}

async fn aws_setup(endpoint: &str, scratch: &Path) -> Aws {
    let proxy = CountingProxy::start(endpoint).await;
    let cfg = rampart_tests::aws_config(endpoint).await;
    let (_, table) = rampart_tests::dynamo_table(endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let queue = sqs
        .create_queue()
        .queue_name(format!("bench-{}", rampart_platform::crypto::random_id()))
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue url");
    // Every declared secret, generated in its format, as one JSON secret (what production has).
    let mut values: BTreeMap<String, String> = {
        use rampart_platform::secrets::SecretSource;
        let source = rampart_platform::secrets::local::LocalSource::from_env(Some(
            scratch.join("generated-secrets.json"),
        ));
        source.load().await.expect("generated secrets").current
    };
    values.insert("STRIPE_WEBHOOK_SECRET".into(), STRIPE_SECRET.into());
    let secret_id = format!("bench-{}", rampart_platform::crypto::random_id());
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
    Aws {
        proxy,
        env,
        endpoint: endpoint.to_string(),
    }
}

/// What is spawned for a row: a function's release binary, or the Python peer under its runtime
/// interface client.
struct Subject {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    /// Set after the shared AWS environment, so it can override it (the peer's table).
    env: Vec<(String, String)>,
    /// Whether it does webhooks-api's intake (the new-event and duplicate rows).
    intake: bool,
}

impl Subject {
    fn function(bins: &Path, name: &'static str) -> Self {
        Self {
            name,
            program: bins.join(name),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            intake: name == "webhooks-api",
        }
    }

    fn peer(p: &Peer, table: String) -> Self {
        let cmd = p.command();
        let mut env = p.env();
        env.push(("TABLE_NAME".into(), table));
        Self {
            name: peer::NAME,
            program: cmd.get_program().into(),
            args: cmd
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            dir: cmd.get_current_dir().map(Path::to_path_buf),
            env,
            intake: true,
        }
    }
}

fn spawn(s: &Subject, emu: &Emulator, aws: &Aws, scratch: &Path) -> Child {
    let mut cmd = Command::new(&s.program);
    if let Some(dir) = &s.dir {
        cmd.current_dir(dir);
    }
    cmd.args(&s.args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", scratch)
        .env("DATA_DIR", scratch)
        .env("AWS_LAMBDA_RUNTIME_API", emu.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", s.name.replace(' ', "-"))
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .envs(aws.env.iter().map(|(k, v)| (k, v)))
        .envs(s.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", s.program.display()))
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The event each function is invoked with: webhooks-api and the Python peer get a signed Stripe
/// delivery (a new event every time), the other HTTP functions their health route, the worker an
/// empty batch and the cron a scheduled event.
fn event(name: &str) -> String {
    let health = |path: &str| apigw_v2("GET", path, &[], None);
    match name {
        "webhooks-api" | peer::NAME => stripe_delivery(&format!(
            "evt_bench_{}",
            rampart_platform::crypto::random_id()
        )),
        "auth-api" => health("/auth/health"),
        "billing-api" => health("/billing/health"),
        "customers-api" => health("/usage/health"),
        "orders-api" => health("/orders/health"),
        "gdpr-api" => health("/account/health"),
        "jobs-worker" => r#"{"Records":[]}"#.into(),
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
    /// None for the Python peer (no binary).
    size: Option<u64>,
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
async fn cold(s: &Subject, aws: &Aws, scratch: &Path, row: &mut FnRow, n: usize) {
    for _ in 0..n {
        let mut emu = Emulator::start().await;
        emu.invoke(event(s.name));
        let t0 = Instant::now();
        let child = spawn(s, &emu, aws, scratch);
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
    function: &'static str,
    label: &'static str,
    latencies: Vec<Duration>,
    calls: BTreeMap<String, u64>,
    n: usize,
}

/// One warm process: RSS after the first invoke, warm latency of its event, and for
/// webhooks-api and the Python peer the new-event and duplicate paths with their AWS calls
/// counted.
async fn warm(s: &Subject, aws: &Aws, scratch: &Path, row: &mut FnRow, n: usize) -> Vec<IntakeRow> {
    let name = s.name;
    let mut emu = Emulator::start().await;
    let child = spawn(s, &emu, aws, scratch);
    invoke_all(&mut emu, vec![event(name)]).await;
    row.rss_first = status_kib(child.id(), "VmRSS:").unwrap_or(0);
    let mut intake = Vec::new();
    if s.intake {
        let _ = aws.proxy.take();
        let news: Vec<String> = (0..n)
            .map(|i| {
                stripe_delivery(&format!(
                    "evt_warm_{}_{i}",
                    rampart_platform::crypto::random_id()
                ))
            })
            .collect();
        let lat = invoke_all(&mut emu, news).await;
        intake.push(IntakeRow {
            function: name,
            label: "new event",
            latencies: lat.clone(),
            calls: aws.proxy.take(),
            n,
        });
        row.warm = lat;
        let dup = stripe_delivery(&format!(
            "evt_dup_{}",
            rampart_platform::crypto::random_id()
        ));
        invoke_all(&mut emu, vec![dup.clone()]).await;
        let _ = aws.proxy.take();
        let lat = invoke_all(&mut emu, vec![dup; n]).await;
        intake.push(IntakeRow {
            function: name,
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

/// The size of `bin` once stripped of symbols (what the release profile's `strip = "symbols"`
/// ships), measured on a copy so binaries from `--bin-dir` built without it read the same;
/// `None` when `strip` is not installed.
fn stripped_size(bin: &Path, scratch: &Path) -> Option<u64> {
    let out = scratch.join("stripped");
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let size = std::fs::metadata(&out).ok().map(|m| m.len());
    let _ = std::fs::remove_file(&out);
    size.filter(|_| ok)
}

fn selected(opts: &Options, name: &str) -> bool {
    opts.only
        .as_ref()
        .is_none_or(|only| only.iter().any(|o| o == name))
}

/// The Python peer ready to spawn, with its idempotency table created, and its versions; or why
/// it is not part of this run (printed in its place).
fn peer_subject(opts: &Options, aws: &Aws) -> Result<(Subject, String), String> {
    if !opts.peer {
        return Err("left out (--no-peer)".into());
    }
    if !selected(opts, "webhooks-api") {
        return Err("left out (it runs beside webhooks-api, which --only excludes)".into());
    }
    let p = peer::find()?;
    let table = format!("peer-{}", rampart_platform::crypto::random_id());
    p.create_table(&aws.endpoint, &table)?;
    Ok((Subject::peer(&p, table), p.versions.clone()))
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Each wrk load's label and its run (or why the run failed).
type LoadRuns = Vec<(&'static str, Result<LoadRun, String>)>;

/// Everything the verdict reads, gathered while the tables are printed.
struct Measured<'a> {
    rows: &'a [(&'static str, FnRow)],
    intake: &'a [IntakeRow],
    peer_missing: Option<&'a str>,
    /// Whether the sizes are stripped sizes (`strip` was available).
    stripped: bool,
    /// The wrk loads, or why there were none.
    load: Result<LoadRuns, String>,
    in_process: &'a [(&'static str, Duration, Duration)],
}

/// One row per performance goal, measured against this run's numbers.
fn verdict_rows(m: &Measured) -> Vec<Row> {
    let mut out = Vec::new();
    let rust: Vec<&(&str, FnRow)> = m.rows.iter().filter(|(n, _)| *n != peer::NAME).collect();
    let intake = |function: &str, label: &str| {
        m.intake
            .iter()
            .find(|r| r.function == function && r.label == label)
    };

    let goal = "webhooks-api cold start → first response p50 ≤ 15 ms";
    out.push(match rust.iter().find(|(n, _)| *n == "webhooks-api") {
        Some((_, r)) if !r.cold.is_empty() => Row::measured(
            goal,
            millis(percentile(&r.cold, 50.0)),
            Aim::AtMost(15.0),
            Unit::Ms,
            "",
        ),
        _ => Row::unmeasured(goal, "webhooks-api was not run"),
    });

    let ours = intake("webhooks-api", "duplicate delivery");
    let theirs = intake(peer::NAME, "duplicate delivery");
    out.push(match (ours, theirs) {
        (Some(o), Some(t)) => {
            let peer_p50 = millis(percentile(&t.latencies, 50.0));
            Row::measured(
                &format!(
                    "warm duplicate delivery p50 ≤ the Python peer's ({}, this run)",
                    Unit::Ms.show(peer_p50)
                ),
                millis(percentile(&o.latencies, 50.0)),
                Aim::AtMost(peer_p50),
                Unit::Ms,
                "",
            )
        }
        // Without a peer in this run, the issue's own Python figure is the bar, said as such.
        (Some(o), None) => Row::measured(
            "warm duplicate delivery p50 ≤ the Python peer's (9.7 ms, the issue's figure)",
            millis(percentile(&o.latencies, 50.0)),
            Aim::AtMost(9.7),
            Unit::Ms,
            &format!(
                "no peer this run: {}",
                m.peer_missing.unwrap_or("it did not answer")
            ),
        ),
        _ => Row::unmeasured(
            "warm duplicate delivery p50 ≤ the Python peer's",
            "webhooks-api was not run",
        ),
    });

    for (label, want) in [("new event", 2.0), ("duplicate delivery", 1.0)] {
        let goal = format!("AWS calls per request, {label} = {want:.0}");
        out.push(match intake("webhooks-api", label) {
            Some(r) => Row::measured(
                &goal,
                r.calls.values().sum::<u64>() as f64 / r.n as f64,
                Aim::Exactly(want),
                Unit::PerRequest,
                "",
            ),
            None => Row::unmeasured(&goal, "webhooks-api was not run"),
        });
    }

    let goal = "RSS after first invoke ≤ 20 MiB";
    out.push(match rust.iter().max_by_key(|(_, r)| r.rss_first) {
        Some((name, r)) => Row::measured(
            goal,
            r.rss_first as f64 / (1024.0 * 1024.0),
            Aim::AtMost(20.0),
            Unit::MiB,
            &if rust.len() == 1 {
                format!("{name}, the only function run")
            } else {
                format!("largest of {} functions: {name}", rust.len())
            },
        ),
        None => Row::unmeasured(goal, "no function was run"),
    });

    let goal = "stripped binary ≤ 8 MiB (arm64)";
    out.push(match rust.iter().max_by_key(|(_, r)| r.size) {
        Some((name, r)) => Row::measured(
            goal,
            r.size.unwrap_or(0) as f64 / (1024.0 * 1024.0),
            Aim::AtMost(8.0),
            Unit::MiB,
            &format!(
                "x86_64, largest: {name}{}; arm64 could not be built here (no aarch64 target or linker)",
                if m.stripped {
                    ""
                } else {
                    ", unstripped: strip is not installed"
                }
            ),
        ),
        None => Row::unmeasured(goal, "no function was run"),
    });

    let load_goals: [(&str, &str, Aim, bool); 3] = [
        (
            "local stack, distinct signed events ≥ 10,000 req/s",
            "distinct signed events",
            Aim::AtLeast(10_000.0),
            false,
        ),
        (
            "local stack, distinct signed events ≤ 100 µs CPU/request",
            "distinct signed events",
            Aim::AtMost(100.0),
            true,
        ),
        (
            "local stack, one event over and over ≥ 20,000 req/s",
            "one event over and over",
            Aim::AtLeast(20_000.0),
            false,
        ),
    ];
    for (goal, label, aim, cpu) in load_goals {
        let run = match &m.load {
            Err(why) => Err(why.clone()),
            Ok(runs) => match runs.iter().find(|(l, _)| *l == label) {
                Some((_, Ok(r))) => Ok(r),
                Some((_, Err(e))) => Err(format!("the wrk run failed: {e}")),
                None => Err("not run".into()),
            },
        };
        out.push(match run {
            Ok(r) if cpu => Row::measured(goal, micros(r.cpu_per_request), aim, Unit::Us, ""),
            Ok(r) => Row::measured(goal, r.per_sec, aim, Unit::PerSec, ""),
            Err(why) => Row::unmeasured(goal, &why),
        });
    }

    for (label, p50, _) in m.in_process {
        out.push(Row::measured(
            &format!("in-process handler p50 ≤ 50 µs: {label}"),
            micros(*p50),
            Aim::AtMost(50.0),
            Unit::Us,
            "",
        ));
    }
    out
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

    let mut subjects: Vec<(Subject, Option<u64>)> = Vec::new();
    let mut stripped = true;
    for name in FUNCTIONS {
        if selected(&opts, name) {
            let s = Subject::function(&bins, name);
            let size = match stripped_size(&s.program, &scratch) {
                Some(size) => size,
                None => {
                    stripped = false;
                    std::fs::metadata(&s.program)?.len()
                }
            };
            subjects.push((s, Some(size)));
        }
    }
    // The peer's rows follow webhooks-api's, whose job it does.
    let peer = peer_subject(&opts, &aws);
    let peer_text = match &peer {
        Ok((_, versions)) => format!(
            "included as the `{}` rows: bench/peer/handler.py under awslambdaric ({versions})",
            peer::NAME
        ),
        Err(why) => format!("not included: {why}"),
    };
    if let Ok((s, _)) = peer {
        let at = subjects
            .iter()
            .position(|(s, _)| s.name == "webhooks-api")
            .map_or(subjects.len(), |i| i + 1);
        subjects.insert(at, (s, None));
    }

    let mut rows: Vec<(&'static str, FnRow)> = Vec::new();
    let mut intake = Vec::new();
    for (s, size) in &subjects {
        let mut row = FnRow {
            size: *size,
            ..FnRow::default()
        };
        eprintln!(
            "==> {}: {} cold starts, {} warm invokes",
            s.name, opts.spawns, opts.warm
        );
        cold(s, &aws, &scratch, &mut row, opts.spawns).await;
        intake.extend(warm(s, &aws, &scratch, &mut row, opts.warm).await);
        rows.push((s.name, row));
    }

    println!("\n## Rampart performance ({})\n", machine());
    if cfg!(debug_assertions) {
        // The Lambda rows time the release binaries either way; the in-process rows time this
        // process's own code, which is unoptimised in a dev build.
        println!(
            "(this harness is a dev build: its in-process rows are not representative; scripts/bench uses --profile bench-fast)\n"
        );
    }
    println!(
        "Lambda functions (release) under the loopback Runtime API emulator, AWS = moto via a counting proxy."
    );
    println!(
        "binary = {} size, {}.",
        if stripped {
            "stripped"
        } else {
            "file (strip is not installed)"
        },
        std::env::consts::ARCH
    );
    println!(
        "Cold start = spawn -> answer received, {} spawns; warm = {} invokes on one process.",
        opts.spawns, opts.warm
    );
    println!(
        "Python peer (stripe + Powertools idempotency + boto3, doing webhooks-api's intake): {peer_text}.\n"
    );
    println!(
        "| function | binary | cold p50 | cold p95 | init p50 (spawn → 1st poll) | warm p50 | warm p99 | RSS after 1st invoke | RSS peak | answers (cold) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, r) in &rows {
        let answers: Vec<String> = r.answers.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.size.map(mib).unwrap_or_else(|| "— (Python)".into()),
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
    println!(
        "\nStripe intake, warm, webhooks-api and the Python peer when included (AWS calls per request, counted at the proxy):\n"
    );
    println!("| function | request | p50 | p99 | AWS calls per request |");
    println!("|---|---|---|---|---|");
    for r in &intake {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.function,
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
    let load = if !load::wrk_available() {
        Err("wrk is not installed (apt-get install wrk)".to_string())
    } else if opts.load_secs == 0 || !bins.join("rampart-local").exists() {
        Err("--load-secs 0, or no rampart-local binary".to_string())
    } else {
        let data = scratch.join("local");
        std::fs::create_dir_all(&data)?;
        match load::LocalStack::start(&bins.join("rampart-local"), &data).await {
            Err(e) => Err(e),
            Ok(stack) => {
                let mut runs = Vec::new();
                for (label, distinct) in [
                    ("distinct signed events", true),
                    ("one event over and over", false),
                ] {
                    runs.push((
                        label,
                        load::run(&stack, &scratch, distinct, 32, opts.load_secs),
                    ));
                }
                Ok(runs)
            }
        }
    };
    match &load {
        Err(why) => println!("not measured: {why}"),
        Ok(runs) => {
            println!("| load | req/s | CPU per request | p50 | p99 | requests | non-2xx |");
            println!("|---|---|---|---|---|---|---|");
            for (label, run) in runs {
                match run {
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
    }

    let n = 2_000;
    println!(
        "\nIn-process (webhooks-api router, lambda_http adapter, API Gateway v2 JSON, embedded in-memory store), {n} requests each:\n"
    );
    println!("| request | p50 | p99 |");
    println!("|---|---|---|");
    let in_proc = in_process(n).await;
    for (label, p50, p99) in &in_proc {
        println!("| {label} | {} | {} |", us(*p50), us(*p99));
    }
    println!("\n(criterion's view of the same: cargo bench -p rampart-perf --bench handler)");

    let peer_missing = peer_text.strip_prefix("not included: ");
    let goals = verdict_rows(&Measured {
        rows: &rows,
        intake: &intake,
        peer_missing,
        stripped,
        load,
        in_process: &in_proc,
    });
    println!("\nPerformance goals against this run (\"met\", or the distance still to go):\n");
    print!("{}", verdict::table(&goals));
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
