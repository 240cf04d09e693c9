//! The Python peer (`bench/peer/handler.py`): webhooks-api's intake job as a Python team would
//! write it (stripe SDK, Powertools idempotency on DynamoDB, boto3 to SQS), run by AWS's runtime
//! interface client (`awslambdaric`) under the same emulator and counting proxy as the Rust
//! functions. Its packages live in their own venv (`.tools/venv-peer`, installed by
//! `scripts/bench` from `bench/peer/requirements.txt`); when that is missing the harness says so
//! and runs without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The row label the peer's measurements are printed under.
pub const NAME: &str = "python peer";

/// A usable peer: the venv's interpreter and the directory holding the handler.
pub struct Peer {
    pub python: PathBuf,
    pub dir: PathBuf,
    /// Interpreter and package versions, for the output.
    pub versions: String,
}

/// `bench/peer`, found from this crate's manifest so the harness runs from any directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

/// The peer's interpreter: `RAMPART_PEER_PYTHON`, else the venv `scripts/bench` installs.
fn python() -> PathBuf {
    std::env::var_os("RAMPART_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir().join("../../.tools/venv-peer/bin/python"))
}

/// Prints the versions if every package the handler and its runtime client need imports.
const PROBE: &str = "\
import sys, importlib.metadata as m
import awslambdaric, aws_lambda_powertools, stripe, boto3
pkgs = ['stripe', 'aws-lambda-powertools', 'boto3', 'awslambdaric']
print('Python ' + sys.version.split()[0] + ', ' + ', '.join(p + ' ' + m.version(p) for p in pkgs))
";

/// The peer, or why it cannot run here (the harness prints the reason).
pub fn find() -> Result<Peer, String> {
    let python = python();
    if !python.exists() {
        return Err(format!(
            "{} is missing: scripts/bench installs it from bench/peer/requirements.txt when python3 is available",
            python.display()
        ));
    }
    let out = Command::new(&python)
        .args(["-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "its packages do not import ({})",
            err.lines().last().unwrap_or("no error output").trim()
        ));
    }
    Ok(Peer {
        python,
        dir: dir(),
        versions: String::from_utf8_lossy(&out.stdout).trim().to_string(),
    })
}

impl Peer {
    /// The idempotency table (partition key `id`), created on moto directly: set-up calls are
    /// not the peer's to count.
    pub fn create_table(&self, endpoint: &str, name: &str) -> Result<(), String> {
        let out = Command::new(&self.python)
            .arg(self.dir.join("create_table.py"))
            .arg(name)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.python.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "the idempotency table could not be created ({})",
                err.lines().last().unwrap_or("no error output").trim()
            ))
        }
    }

    /// `python -m awslambdaric handler.handler`, from the handler's directory (the client puts
    /// its working directory on the import path, as Lambda's task root).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.args(["-m", "awslambdaric", "handler.handler"])
            .current_dir(&self.dir);
        cmd
    }

    /// Environment the peer needs beyond what the Rust functions get.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("LAMBDA_TASK_ROOT", self.dir.display().to_string()),
            // Lambda's code directory is read-only; keep the work tree free of __pycache__.
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
            // boto3 reads AWS_DEFAULT_REGION (Lambda sets both).
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            // Powertools' logger/metrics stay quiet; only the idempotency utility is used.
            ("POWERTOOLS_SERVICE_NAME", "webhooks-peer".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}
