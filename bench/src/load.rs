//! The local stack under an outside load generator (`wrk`, in its own process): distinct signed
//! Stripe deliveries, then one delivery over and over; throughput and the stack's CPU time per
//! request, read from /proc around the run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::{STRIPE_SECRET, now, stripe_body, stripe_signature};
use crate::stats::cpu_time;

/// What one wrk run measured.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub requests: u64,
    pub per_sec: f64,
    pub non_2xx: u64,
    pub cpu_per_request: Duration,
    /// The stack's CPU per request once the worker has also processed every event the run left
    /// queued: what an event costs end to end (intake, worker, store).
    pub cpu_per_request_drained: Duration,
    /// How long after the run the worker took to catch up (zero when it kept up).
    pub drain: Duration,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// `rampart-local` on a free loopback port, on a fresh data directory.
pub struct LocalStack {
    child: Child,
    pub base: String,
}

impl LocalStack {
    pub async fn start(bin: &Path, data_dir: &Path) -> Result<Self, String> {
        let port = free_port();
        let child = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", data_dir)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .env("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stack = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let url = format!("{}/webhooks/health", stack.base);
            if let Ok(r) = client.get(url).send().await
                && r.status().is_success()
            {
                return Ok(stack);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("rampart-local did not answer /webhooks/health within 20 s".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub fn wrk_available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A wrk script that sends `events` distinct signed deliveries, each thread its own stride of
/// them (so two threads never send the same event), or one delivery over and over. The events
/// are a data file read in `init` (a Lua chunk holding them as constants would pass LuaJIT's
/// limit of constants per function).
fn script(dir: &Path, events: usize, distinct: bool) -> std::io::Result<PathBuf> {
    let name = if distinct { "distinct" } else { "same" };
    let data = dir.join(format!("{name}.tsv"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&data)?);
    let t = now();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for i in 0..(if distinct { events } else { 1 }) {
        let body = stripe_body(&format!("evt_load_{stamp}_{i}"), t);
        let sig = stripe_signature(&body, STRIPE_SECRET, t);
        writeln!(f, "{sig}\t{body}")?;
    }
    f.flush()?;
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(
        &path,
        format!(
            r#"local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local sigs, bodies, n = {{}}, {{}}, 0
function init(args)
  for line in io.lines({data:?}) do
    local s, b = line:match("^([^\t]*)\t(.*)$")
    sigs[#sigs + 1] = s
    bodies[#bodies + 1] = b
  end
end
function request()
  local i = ((tid or 0) + n * 2) % #bodies + 1
  n = n + 1
  return wrk.format("POST", "/webhooks/stripe",
    {{["content-type"] = "application/json", ["stripe-signature"] = sigs[i]}}, bodies[i])
end
"#
        ),
    )?;
    Ok(path)
}

fn field(text: &str, prefix: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(prefix).map(|r| r.trim().to_string()))
}

fn latency_ms(text: &str, pct: &str) -> Option<f64> {
    let v = field(text, pct)?;
    if let Some(us) = v.strip_suffix("us") {
        us.parse::<f64>().ok().map(|x| x / 1e3)
    } else if let Some(ms) = v.strip_suffix("ms") {
        ms.parse().ok()
    } else {
        v.strip_suffix('s')?.parse::<f64>().ok().map(|x| x * 1e3)
    }
}

/// Waits until the stack is idle again (under 2% of a core over 200 ms, or 60 s at most): the
/// worker has processed what the run queued. Returns how long that took and the stack's CPU time
/// then. Reading CPU only while wrk runs would leave out the worker's work on a backlog, so a
/// worker that falls behind would look cheaper than one that keeps up.
fn settle(pid: u32, at_end: Duration) -> (Duration, Duration) {
    let start = Instant::now();
    let step = Duration::from_millis(200);
    let mut last = at_end;
    loop {
        std::thread::sleep(step);
        let now = cpu_time(pid).unwrap_or(last);
        if now.saturating_sub(last) < step / 50 || start.elapsed() > Duration::from_secs(60) {
            // The quiet step itself is not part of the catch-up.
            return (start.elapsed().saturating_sub(step), now);
        }
        last = now;
    }
}

/// One wrk run against the stack: `connections` on two threads for `secs`.
pub fn run(
    stack: &LocalStack,
    dir: &Path,
    distinct: bool,
    connections: u32,
    secs: u32,
) -> Result<LoadRun, String> {
    // Enough distinct events for 20,000 req/s over the run; beyond that wrk would wrap around
    // and send repeats, which the harness reports as a different number.
    let events = (20_000 * secs) as usize;
    let script = script(dir, events, distinct).map_err(|e| format!("wrk script: {e}"))?;
    let before = cpu_time(stack.pid()).unwrap_or_default();
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{secs}s")])
        .arg("--latency")
        .arg("-s")
        .arg(&script)
        .arg(format!("{}/webhooks/stripe", stack.base))
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let after = cpu_time(stack.pid()).unwrap_or_default();
    let (drain, drained) = settle(stack.pid(), after);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() || !out.stderr.is_empty() {
        return Err(format!(
            "wrk failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            text
        ));
    }
    let requests: u64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read wrk's output:\n{text}"))?;
    let per_sec: f64 = field(&text, "Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let non_2xx = field(&text, "Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cpu = after.saturating_sub(before);
    Ok(LoadRun {
        requests,
        per_sec,
        non_2xx,
        cpu_per_request: cpu / requests.max(1) as u32,
        cpu_per_request_drained: drained.saturating_sub(before) / requests.max(1) as u32,
        drain,
        p50_ms: latency_ms(&text, "50%"),
        p99_ms: latency_ms(&text, "99%"),
    })
}
