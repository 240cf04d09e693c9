//! `rampart-perf` (run by `scripts/bench`, after `start_peers`): builds the release binaries,
//! runs each function under the loopback Lambda Runtime API emulator with its AWS calls going to
//! moto through a counting proxy, loads the local stack with wrk, times the in-process handler,
//! runs the peers (Python: `bench/peer`, Node.js: `bench/peer-node`) beside webhooks-api when
//! they are installed, and prints the tables, then a verdict per performance goal. Spawning and
//! timing are in `measure.rs`, the goals in `goals.rs`; this file is the run's order and its
//! tables. Timings on a shared machine are noisy: compare ratios within one run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart_perf::fixtures::{self, apigw_v2, stripe_delivery};
use rampart_perf::goals::{Measured, verdict_rows};
use rampart_perf::load;
use rampart_perf::measure::{Aws, FnRow, Subject, aws_setup, calls_text, cold, warm};
use rampart_perf::peer::{self, Kind};
use rampart_perf::stats::{mib, ms, percentile, us};
use rampart_perf::verdict;

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
    /// Leave the peers out even when they are installed (`--no-peer`).
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

/// The peer of `kind` ready to spawn, with its idempotency table created, and its versions; or
/// why it is not part of this run (printed in its place).
fn peer_subject(opts: &Options, aws: &Aws, kind: Kind) -> Result<(Subject, String), String> {
    if !opts.peer {
        return Err("left out (--no-peer)".into());
    }
    if !selected(opts, "webhooks-api") {
        return Err("left out (it runs beside webhooks-api, which --only excludes)".into());
    }
    let p = peer::find(kind)?;
    // A table per peer: each persistence layer keys its records its own way.
    let table = format!("peer-{}", rampart_platform::crypto::random_id());
    p.create_table(&aws.endpoint, &table)?;
    Ok((Subject::peer(&p, table), p.versions.clone()))
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
    // The peers' rows follow webhooks-api's, whose job they do, in Kind::ALL's order.
    let mut peer_texts = Vec::new();
    let mut peers_missing = Vec::new();
    let mut at = subjects
        .iter()
        .position(|(s, _)| s.name == "webhooks-api")
        .map_or(subjects.len(), |i| i + 1);
    for kind in Kind::ALL {
        let text = match peer_subject(&opts, &aws, kind) {
            Ok((s, versions)) => {
                subjects.insert(at, (s, None));
                at += 1;
                format!(
                    "included as the `{}` rows: {} ({versions})",
                    kind.label(),
                    kind.description()
                )
            }
            Err(why) => {
                let text = format!("not included: {why}");
                peers_missing.push((kind, why));
                text
            }
        };
        peer_texts.push((kind, text));
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
    for (kind, text) in &peer_texts {
        println!(
            "{} peer ({}, doing webhooks-api's intake): {text}.",
            kind.language(),
            kind.stack()
        );
    }
    println!();
    println!(
        "| function | binary | cold p50 | cold p95 | init p50 (spawn → 1st poll) | warm p50 | warm p99 | RSS after 1st invoke | RSS peak | answers (cold) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, r) in &rows {
        let answers: Vec<String> = r.answers.iter().map(|(k, v)| format!("{k}×{v}")).collect();
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.size
                .map(mib)
                .unwrap_or_else(|| match Kind::of_label(name) {
                    Some(kind) => format!("— ({})", kind.language()),
                    None => "—".into(),
                }),
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
        "\nStripe intake, warm, webhooks-api and the peers when included (AWS calls per request, counted at the proxy):\n"
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
            println!(
                "| load | req/s | CPU per request (during the run) | CPU per request (backlog processed) | backlog processed after | p50 | p99 | requests | non-2xx |"
            );
            println!("|---|---|---|---|---|---|---|---|---|");
            for (label, run) in runs {
                match run {
                    Ok(r) => println!(
                        "| {label} | {:.0} | {} | {} | {:.1} s | {} | {} | {} | {} |",
                        r.per_sec,
                        us(r.cpu_per_request),
                        us(r.cpu_per_request_drained),
                        r.drain.as_secs_f64(),
                        r.p50_ms.map(|v| format!("{v:.2} ms")).unwrap_or_default(),
                        r.p99_ms.map(|v| format!("{v:.2} ms")).unwrap_or_default(),
                        r.requests,
                        r.non_2xx,
                    ),
                    Err(e) => println!("| {label} | failed: {e} | | | | | | | |"),
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

    let goals = verdict_rows(&Measured {
        rows: &rows,
        intake: &intake,
        peers_missing: &peers_missing,
        load,
        in_process: &in_proc,
        arm64: &rampart_perf::goals::arm64_bootstraps(&target_dir()),
    });
    println!("\nPerformance goals against this run (\"met\", or the distance still to go):\n");
    print!("{}", verdict::table(&goals));
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}
