//! One function as Lambda runs it: its binary as its own process under a Runtime API emulator
//! of its own, with exactly the environment it is given, one invocation at a time (one
//! execution environment; the harness never needs more). The invocation's deadline is the
//! template's `Timeout`: past it the process is killed and the invocation reported as timed
//! out, and the next one starts a fresh process (a cold start), as Lambda does. A process that
//! exits or reports an init error fails its invocation with the end of its log.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rampart_tests::emulator::Emulator;
use serde_json::Value;

/// Lambda's limit on the init phase of an on-demand function (AWS Lambda Developer Guide,
/// "Understanding the Lambda execution environment lifecycle": init is limited to 10 s).
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub enum Failure {
    /// The function never became ready: its init failed or it exited.
    Init(String),
    /// The handler answered with an error (`/error`).
    Error(String),
    /// Killed at the deadline.
    Timeout(u64),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Init(why) => write!(f, "init failed: {why}"),
            Failure::Error(body) => write!(f, "function error: {body}"),
            Failure::Timeout(s) => write!(f, "Task timed out after {s} seconds (killed)"),
        }
    }
}

struct Instance {
    child: Child,
    emu: Emulator,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Function {
    pub name: String,
    pub program: PathBuf,
    pub arn: String,
    pub timeout: Duration,
    /// The whole environment of the process (nothing is inherited).
    pub env: BTreeMap<String, String>,
    /// Every line the function's processes printed, oldest first.
    pub log: Arc<Mutex<Vec<String>>>,
    instance: tokio::sync::Mutex<Option<Instance>>,
    /// Where the current process's lines start in `log`.
    since: Mutex<usize>,
    pub cold_starts: Mutex<u32>,
}

impl Function {
    pub fn new(
        name: &str,
        program: PathBuf,
        arn: String,
        timeout: Duration,
        env: BTreeMap<String, String>,
    ) -> Self {
        Self {
            name: name.to_string(),
            program,
            arn,
            timeout,
            env,
            log: Arc::new(Mutex::new(Vec::new())),
            instance: tokio::sync::Mutex::new(None),
            since: Mutex::new(0),
            cold_starts: Mutex::new(0),
        }
    }

    fn spawn(&self, emu: &Emulator) -> Result<Child, Failure> {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear()
            .envs(&self.env)
            .env("AWS_LAMBDA_RUNTIME_API", emu.addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure::Init(format!("cannot start {}: {e}", self.program.display())))?;
        for out in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = self.log.clone();
            let echo = std::env::var("RAMPART_DEPLOYED_ECHO").is_ok_and(|v| v == "1");
            let name = self.name.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("[{name}] {line}");
                    }
                    log.lock().expect("log").push(line);
                }
            });
        }
        *self.cold_starts.lock().expect("cold starts") += 1;
        *self.since.lock().expect("since") = self.log.lock().expect("log").len();
        Ok(child)
    }

    /// The last lines of the log, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let log = self.log.lock().expect("log");
        let start = log.len().saturating_sub(n);
        log[start..].join("\n    ")
    }

    /// The lines the current (or last) process printed, at most the last `n`.
    fn own_tail(&self, n: usize) -> String {
        let since = *self.since.lock().expect("since");
        let log = self.log.lock().expect("log");
        let start = log.len().saturating_sub(n).max(since.min(log.len()));
        log[start..].join("\n    ")
    }

    /// The log lines (as JSON) carrying `field == value`.
    pub fn lines_with(&self, field: &str, value: &str) -> Vec<Value> {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.contains(value))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v[field].as_str() == Some(value))
            .collect()
    }

    async fn start(&self, slot: &mut Option<Instance>) -> Result<(), Failure> {
        if let Some(inst) = slot.as_mut() {
            if inst.child.try_wait().ok().flatten().is_none() {
                return Ok(());
            }
            *slot = None;
        }
        let emu = Emulator::start_with(&self.arn, self.timeout).await;
        let child = self.spawn(&emu)?;
        *slot = Some(Instance { child, emu });
        Ok(())
    }

    /// Starts the function (if it is not running) and waits for its init to finish: the
    /// runtime's first poll for an event.
    pub async fn ready(&self) -> Result<(), Failure> {
        let mut slot = self.instance.lock().await;
        self.ready_locked(&mut slot).await
    }

    async fn ready_locked(&self, slot: &mut Option<Instance>) -> Result<(), Failure> {
        self.start(slot).await?;
        let began = Instant::now();
        loop {
            let inst = slot.as_mut().expect("started");
            if inst.emu.first_poll().is_some() {
                return Ok(());
            }
            if let Some(o) = inst.emu.try_outcome() {
                let why = String::from_utf8_lossy(&o.body).to_string();
                *slot = None;
                return Err(Failure::Init(format!("{why}\n    {}", self.own_tail(15))));
            }
            if let Ok(Some(status)) = inst.child.try_wait() {
                *slot = None;
                return Err(Failure::Init(format!(
                    "exited ({status}) during init:\n    {}",
                    self.own_tail(15)
                )));
            }
            if began.elapsed() > INIT_LIMIT {
                *slot = None;
                return Err(Failure::Init(format!(
                    "init took longer than {INIT_LIMIT:?}:\n    {}",
                    self.own_tail(15)
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One invocation with `event`; the handler's answer, or why there is none.
    pub async fn invoke(&self, event: Bytes) -> Result<Bytes, Failure> {
        let mut slot = self.instance.lock().await;
        self.ready_locked(&mut slot).await?;
        let inst = slot.as_mut().ok_or(Failure::Init("stopped".into()))?;
        let id = inst.emu.invoke(event);
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(o) = inst.emu.try_outcome() {
                if o.request_id != id {
                    continue;
                }
                return if o.ok {
                    Ok(o.body)
                } else {
                    Err(Failure::Error(String::from_utf8_lossy(&o.body).into()))
                };
            }
            if let Ok(Some(status)) = inst.child.try_wait() {
                let tail = self.own_tail(15);
                *slot = None;
                return Err(Failure::Init(format!(
                    "the process exited ({status}) during the invocation:\n    {tail}"
                )));
            }
            if Instant::now() >= deadline {
                // Lambda stops the execution environment at the deadline; the next invocation
                // starts a new one.
                *slot = None;
                self.log.lock().expect("log").push(format!(
                    "REPORT (harness) Task timed out after {} seconds",
                    self.timeout.as_secs()
                ));
                return Err(Failure::Timeout(self.timeout.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn stop(&self) {
        *self.instance.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "function" that takes its event and never answers: a shell script (curl for the
    /// runtime's long poll).
    fn hanging_function(dir: &std::path::Path, timeout: Duration) -> Function {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("bootstrap");
        std::fs::write(
            &script,
            "#!/bin/sh\ncurl -s \"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next\" >/dev/null\necho took the event\nsleep 30\n",
        )
        .expect("script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let env = [(
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_default(),
        )]
        .into_iter()
        .collect();
        Function::new("hanging", script, "arn:hanging".into(), timeout, env)
    }

    #[tokio::test]
    async fn an_invocation_past_its_timeout_is_killed_and_the_next_starts_cold() {
        let dir = std::env::temp_dir().join(format!("rampart-timeout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = hanging_function(&dir, Duration::from_secs(1));
        let began = Instant::now();
        let out = f.invoke(Bytes::from_static(b"{}")).await;
        assert!(matches!(out, Err(Failure::Timeout(1))), "{out:?}");
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "killed at the deadline"
        );
        assert!(f.tail(5).contains("took the event"));
        let again = f.invoke(Bytes::from_static(b"{}")).await;
        assert!(matches!(again, Err(Failure::Timeout(1))), "{again:?}");
        assert_eq!(
            *f.cold_starts.lock().unwrap(),
            2,
            "a fresh process after the kill"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
