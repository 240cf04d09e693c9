//! Running one subject under the loopback Runtime API emulator and measuring it: the moto
//! resources and environment every spawned process gets (its AWS calls going through the
//! counting proxy), cold starts (spawn → answer), one warm process's latency and RSS, and for
//! the Stripe intake (webhooks-api and each peer) the new-event and duplicate paths with their
//! AWS calls counted. Rust functions and peers are spawned and timed by the same code, so their
//! rows compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::emulator::Emulator;
use crate::fixtures::{STRIPE_SECRET, apigw_v2, stripe_delivery};
use crate::peer::{self, Peer};
use crate::proxy::CountingProxy;
use crate::stats::status_kib;

/// The moto resources a spawned function is pointed at, and the environment that says so.
pub struct Aws {
    pub proxy: CountingProxy,
    pub env: Vec<(String, String)>,
    /// moto itself, for set-up calls that are not to be counted.
    pub endpoint: String,
}

/// The queue, the JSON secret and webhooks-api's table on moto, and the counting proxy in front of
/// it, which every spawned process is pointed at.
pub async fn aws_setup(endpoint: &str, scratch: &Path) -> Aws {
    let proxy = CountingProxy::start(endpoint).await;
    let cfg = rampart_tests::aws_config(endpoint).await;
    let (_, table) = rampart_tests::dynamo_table(endpoint).await;
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let name = format!("bench-{}", rampart_platform::crypto::random_id());
    let queue = rampart_tests::create_queue(&sqs, &name).await;
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

/// What is spawned for a row: a function's release binary, or a peer under its runtime interface
/// client.
pub struct Subject {
    pub name: &'static str,
    pub program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    /// Set after the shared AWS environment, so it can override it (the peer's table).
    env: Vec<(String, String)>,
    /// Whether it does webhooks-api's intake (the new-event and duplicate rows).
    intake: bool,
}

impl Subject {
    /// A function's release binary from `bins`.
    pub fn function(bins: &Path, name: &'static str) -> Self {
        Self {
            name,
            program: bins.join(name),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            intake: name == "webhooks-api",
        }
    }

    /// A peer under its runtime interface client, with its own idempotency `table`.
    pub fn peer(p: &Peer, table: String) -> Self {
        let cmd = p.command();
        let mut env = p.env();
        env.push(("TABLE_NAME".into(), table));
        Self {
            name: p.kind.label(),
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

/// The event each function is invoked with: webhooks-api and the peers get a signed Stripe
/// delivery (a new event every time), the other HTTP functions their health route, the worker an
/// empty batch and the cron a scheduled event.
fn event(name: &str) -> String {
    let health = |path: &str| apigw_v2("GET", path, &[], None);
    match name {
        _ if name == "webhooks-api" || peer::Kind::of_label(name).is_some() => stripe_delivery(
            &format!("evt_bench_{}", rampart_platform::crypto::random_id()),
        ),
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

/// One row of the functions table: a subject's size, cold starts, warm latency and RSS.
#[derive(Default)]
pub struct FnRow {
    /// None for a peer (no binary).
    pub size: Option<u64>,
    pub cold: Vec<Duration>,
    pub init: Vec<Duration>,
    pub warm: Vec<Duration>,
    pub rss_first: u64,
    pub rss_peak: u64,
    pub answers: BTreeMap<String, usize>,
}

/// How long an invoke may take before it counts as a timeout.
const WAIT: Duration = Duration::from_secs(15);

/// Cold starts: a fresh process and emulator per spawn, the event queued before the spawn, timed
/// from spawn to the emulator receiving the answer.
pub async fn cold(s: &Subject, aws: &Aws, scratch: &Path, row: &mut FnRow, n: usize) {
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

/// One intake path (new event or duplicate delivery) of one subject, warm: each latency and the
/// AWS calls counted at the proxy over `n` requests.
pub struct IntakeRow {
    pub function: &'static str,
    pub label: &'static str,
    pub latencies: Vec<Duration>,
    pub calls: BTreeMap<String, u64>,
    pub n: usize,
}

/// One warm process: RSS after the first invoke, warm latency of its event, and for
/// webhooks-api and the peers the new-event and duplicate paths with their AWS calls
/// counted.
pub async fn warm(
    s: &Subject,
    aws: &Aws,
    scratch: &Path,
    row: &mut FnRow,
    n: usize,
) -> Vec<IntakeRow> {
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

/// `2.00 (PutItem 1.00, SendMessage 1.00)`: calls per request, in all and by operation.
pub fn calls_text(calls: &BTreeMap<String, u64>, n: usize) -> String {
    let total: u64 = calls.values().sum();
    let parts: Vec<String> = calls
        .iter()
        .map(|(op, c)| format!("{op} {:.2}", *c as f64 / n as f64))
        .collect();
    format!("{:.2} ({})", total as f64 / n as f64, parts.join(", "))
}
