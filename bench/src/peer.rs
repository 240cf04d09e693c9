//! The peers: webhooks-api's intake job as other teams would write it, each run by AWS's own
//! runtime interface client under the same emulator and counting proxy as the Rust functions.
//! - The Python peer (`bench/peer/handler.py`: stripe SDK, Powertools idempotency on DynamoDB,
//!   boto3 to SQS) under `awslambdaric`, its packages in their own venv (`.tools/venv-peer`,
//!   installed by `scripts/bench` from `bench/peer/requirements.txt`).
//! - The Node.js peer (`bench/peer-node/handler.mjs`: stripe-node, Powertools for AWS Lambda
//!   (TypeScript) idempotency on DynamoDB, AWS SDK v3 to SQS) under `aws-lambda-ric`, its
//!   packages in `bench/peer-node/node_modules` (`npm ci` from the committed lock, by
//!   `scripts/bench`).
//!
//! When a peer's runtime or packages are missing the harness says so and runs without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which peer: the language its team writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Python,
    Node,
}

impl Kind {
    /// Every peer, in the order their rows are printed.
    pub const ALL: [Kind; 2] = [Kind::Python, Kind::Node];

    /// The row label its measurements are printed under.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Python => "python peer",
            Kind::Node => "node peer",
        }
    }

    /// The language, as the tables and the verdict name it.
    pub fn language(self) -> &'static str {
        match self {
            Kind::Python => "Python",
            Kind::Node => "Node.js",
        }
    }

    /// The peer whose rows carry `label`, if any.
    pub fn of_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }

    /// Its directory (`bench/peer`, `bench/peer-node`), found from this crate's manifest so the
    /// harness runs from any directory.
    pub fn dir(self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        match self {
            Kind::Python => root.join("peer"),
            Kind::Node => root.join("peer-node"),
        }
    }

    /// The libraries it does the intake with, for the output's header.
    pub fn stack(self) -> &'static str {
        match self {
            Kind::Python => "stripe + Powertools idempotency + boto3",
            Kind::Node => "stripe-node + Powertools (TypeScript) idempotency + AWS SDK v3",
        }
    }

    /// How it is written and run, for the output's header.
    pub fn description(self) -> &'static str {
        match self {
            Kind::Python => "bench/peer/handler.py under awslambdaric",
            Kind::Node => "bench/peer-node/handler.mjs under aws-lambda-ric",
        }
    }
}

/// A usable peer: its interpreter, its directory and the versions it runs.
pub struct Peer {
    pub kind: Kind,
    /// `python` (the venv's) or `node`.
    pub program: PathBuf,
    pub dir: PathBuf,
    /// Interpreter and package versions, for the output.
    pub versions: String,
}

/// The Python peer's interpreter: `RAMPART_PEER_PYTHON`, else the venv `scripts/bench` installs.
fn python() -> PathBuf {
    std::env::var_os("RAMPART_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Kind::Python.dir().join("../../.tools/venv-peer/bin/python"))
}

/// Node: `RAMPART_PEER_NODE`, else `node` on the PATH.
fn node() -> PathBuf {
    std::env::var_os("RAMPART_PEER_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"))
}

/// Prints the versions if every package the handler and its runtime client need imports.
const PYTHON_PROBE: &str = "\
import sys, importlib.metadata as m
import awslambdaric, aws_lambda_powertools, stripe, boto3
pkgs = ['stripe', 'aws-lambda-powertools', 'boto3', 'awslambdaric']
print('Python ' + sys.version.split()[0] + ', ' + ', '.join(p + ' ' + m.version(p) for p in pkgs))
";

/// The same for Node, run from the peer's directory. Importing the runtime client loads its
/// native addon, so a broken build shows here rather than as a run of timeouts.
const NODE_PROBE: &str = "\
import { readFileSync } from 'node:fs';
await import('aws-lambda-ric/dist/index.mjs');
await import('@aws-lambda-powertools/idempotency/dynamodb');
await import('@aws-lambda-powertools/parameters/secrets');
await import('@aws-sdk/client-sqs');
await import('stripe');
const v = (p) => p + ' ' + JSON.parse(readFileSync('node_modules/' + p + '/package.json')).version;
const pkgs = ['stripe', '@aws-lambda-powertools/idempotency', '@aws-sdk/client-sqs', 'aws-lambda-ric'];
console.log('Node ' + process.versions.node + ', ' + pkgs.map(v).join(', '));
";

/// Runs `cmd`: `Err` when it cannot be started at all, else `Ok` of its stdout when it succeeds
/// or of the last line of its stderr when it fails, so callers can say which went wrong.
fn output(mut cmd: Command, program: &Path) -> Result<Result<String, String>, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    Ok(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(err
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("no error output")
            .trim()
            .to_string())
    })
}

/// The peer of `kind`, or why it cannot run here (the harness prints the reason).
pub fn find(kind: Kind) -> Result<Peer, String> {
    let dir = kind.dir();
    let (program, probe) = match kind {
        Kind::Python => {
            let python = python();
            if !python.exists() {
                return Err(format!(
                    "{} is missing: scripts/bench installs it from bench/peer/requirements.txt when python3 is available",
                    python.display()
                ));
            }
            let mut cmd = Command::new(&python);
            cmd.args(["-c", PYTHON_PROBE]);
            (python, cmd)
        }
        Kind::Node => {
            if !dir.join("node_modules").is_dir() {
                return Err(format!(
                    "{} is missing: scripts/bench installs it with npm ci when node and npm are available",
                    dir.join("node_modules").display()
                ));
            }
            let node = node();
            let mut cmd = Command::new(&node);
            cmd.args(["--input-type=module", "-e", NODE_PROBE])
                .current_dir(&dir);
            (node, cmd)
        }
    };
    let versions =
        output(probe, &program)?.map_err(|why| format!("its packages do not import ({why})"))?;
    Ok(Peer {
        kind,
        program,
        dir,
        versions,
    })
}

impl Peer {
    /// The idempotency table (partition key `id`), created on moto directly by the peer's own
    /// `create_table` script: set-up calls are not the peer's to count.
    pub fn create_table(&self, endpoint: &str, name: &str) -> Result<(), String> {
        let script = match self.kind {
            Kind::Python => "create_table.py",
            Kind::Node => "create_table.mjs",
        };
        let mut cmd = Command::new(&self.program);
        cmd.arg(self.dir.join(script))
            .arg(name)
            .current_dir(&self.dir)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        output(cmd, &self.program)?
            .map(drop)
            .map_err(|why| format!("the idempotency table could not be created ({why})"))
    }

    /// The runtime interface client running `handler.handler` from the handler's directory
    /// (both clients load the handler module from their working directory, as from Lambda's
    /// task root).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        match self.kind {
            Kind::Python => cmd.args(["-m", "awslambdaric", "handler.handler"]),
            Kind::Node => cmd.args([
                "node_modules/aws-lambda-ric/bin/index.mjs",
                "handler.handler",
            ]),
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    /// Environment the peer needs beyond what the Rust functions get.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("LAMBDA_TASK_ROOT", self.dir.display().to_string()),
            // Lambda sets it for every runtime; both clients here take the handler as an
            // argument instead, so this only keeps the environment Lambda's.
            ("_HANDLER", "handler.handler".into()),
            // boto3 reads AWS_DEFAULT_REGION (Lambda sets both).
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            // Powertools' logger/metrics stay quiet; only idempotency and parameters are used.
            ("POWERTOOLS_SERVICE_NAME", "webhooks-peer".into()),
        ];
        if self.kind == Kind::Python {
            // Lambda's code directory is read-only; keep the work tree free of __pycache__.
            env.push(("PYTHONDONTWRITEBYTECODE", "1".into()));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}
