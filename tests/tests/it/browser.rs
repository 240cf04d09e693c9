//! A browser app signs in with cookies, in a real headless Chromium, in each deployment topology
//! docs/browser-apps.md documents, with the settings it says go with each: register, log in
//! with cookie delivery, `GET /auth/me`, wait out the access token, refresh through the cookie
//! with the CSRF token, log out; and pages on another site and on an unlisted host of the app's
//! site neither read the API's answers nor change anything.
//!
//! The stack runs here, in-process; `tests/browser/drive.py` runs the HTTPS front (the app, the
//! hostile pages, the reverse proxy to the stack) and drives Chromium through Selenium.
//! `scripts/browser.sh` installs Chromium and the driver and sets `RAMPART_BROWSER_PYTHON`;
//! without it these tests skip, saying why, unless `RAMPART_REQUIRE_BROWSER=1` (the test command
//! sets it once the install worked) makes that a failure.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rampart_tests::{embedded_state, settings, spawn_app_with};

/// The access token lifetime the stack runs with: long enough for the first steps, short
/// enough to wait out.
const TTL_SECS: u64 = 4;

/// How long one topology's run may take before it is killed (it takes about 15 s).
const DEADLINE: Duration = Duration::from_secs(180);

struct Topology {
    name: &'static str,
    app_host: &'static str,
    api_host: &'static str,
    cookie_domain: Option<&'static str>,
    samesite: &'static str,
}

impl Topology {
    /// The settings docs/browser-apps.md gives this topology; `port` is the HTTPS front's (the
    /// origins carry it).
    fn settings(&self, port: u16) -> Vec<(String, String)> {
        let origin = |host: &str| format!("https://{host}:{port}");
        let mut s = vec![
            ("COOKIE_SECURE".into(), "true".into()),
            ("COOKIE_SAMESITE".into(), self.samesite.into()),
            ("ACCESS_TOKEN_TTL_SECS".into(), TTL_SECS.to_string()),
        ];
        if self.app_host == self.api_host {
            // Behind the proxy the stack sees the upstream's Host: the public origin is named.
            s.push(("API_ORIGIN".into(), origin(self.api_host)));
        } else {
            s.push(("CORS_ALLOWED_ORIGINS".into(), origin(self.app_host)));
        }
        if let Some(domain) = self.cookie_domain {
            s.push(("COOKIE_DOMAIN".into(), domain.into()));
            s.push(("API_ORIGIN".into(), origin(self.api_host)));
        }
        s
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python that has Selenium, or `None` (skipped, with the reason printed).
fn driver_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RAMPART_BROWSER_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    // A developer who ran the test command once has it here.
    let local = repo().join(".tools/browser-venv/bin/python");
    if local.exists() && Path::new("/usr/bin/chromedriver").exists() {
        return Some(local);
    }
    let why = std::env::var("RAMPART_BROWSER_SKIP").unwrap_or_else(|_| {
        "no browser tooling: run ./scripts/test, or `. scripts/browser.sh && setup_browser`".into()
    });
    if std::env::var("RAMPART_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("RAMPART_REQUIRE_BROWSER=1 but the browser test cannot run: {why}");
    }
    eprintln!("skipped: {why}");
    None
}

/// Kills the driver (and with it Chromium) if the test ends early.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn signs_in(t: Topology) {
    let Some(python) = driver_python() else {
        return;
    };
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/browser/drive.py"))
        .args(["--topology", t.name])
        .args(["--app-host", t.app_host, "--api-host", t.api_host])
        .args(["--cookie-domain", t.cookie_domain.unwrap_or_default()])
        .args(["--samesite", t.samesite])
        .args(["--ttl", &TTL_SECS.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = Reaped(cmd.spawn().expect("start tests/browser/drive.py"));
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = child.0.stdout.take().expect("stdout");

    // Every line the driver prints, as it prints it, until it exits.
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let until = Instant::now() + DEADLINE;
    let recv = |rx: &mpsc::Receiver<String>| {
        rx.recv_timeout(until.saturating_duration_since(Instant::now()))
            .ok()
    };

    let first = tokio::task::block_in_place(|| recv(&rx)).expect("the driver printed nothing");
    let port: u16 = first
        .strip_prefix("FRONT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected FRONT <port>, got {first:?}"));

    let pairs = t.settings(port);
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let app = spawn_app_with(embedded_state(
        settings(&pairs),
        rampart_platform::clock::system(),
    ))
    .await;
    writeln!(stdin, "UPSTREAM {}", app.addr).expect("tell the driver the upstream");
    stdin.flush().expect("flush");

    let mut transcript = Vec::new();
    let result = tokio::task::block_in_place(|| {
        while let Some(line) = recv(&rx) {
            println!("{line}");
            transcript.push(line.clone());
            if let Some(r) = line.strip_prefix("RESULT ") {
                return Some(r.to_string());
            }
        }
        None
    });
    app.shutdown().await;
    match result.as_deref() {
        Some("ok") => {}
        Some(failure) => panic!("[{}] {failure}\n{}", t.name, transcript.join("\n")),
        None => panic!(
            "[{}] the driver ended without a result (or ran past {} s)\n{}",
            t.name,
            DEADLINE.as_secs(),
            transcript.join("\n")
        ),
    }
}

/// One origin: a proxy (CloudFront in AWS) serves the app and forwards the API's paths, handing
/// the stack its own Host. `__Host-` cookies, no CORS, `API_ORIGIN` names the public origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_origin_behind_a_proxy() {
    signs_in(Topology {
        name: "same-origin",
        app_host: "www.example.test",
        api_host: "www.example.test",
        cookie_domain: None,
        samesite: "lax",
    })
    .await;
}

/// Sibling hosts of one site (an API Gateway custom domain beside the app): host-only
/// `__Host-` cookies on the API's host; the app gets the CSRF token from the login answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_hosts() {
    signs_in(Topology {
        name: "sibling-hosts",
        app_host: "app.example.test",
        api_host: "api.example.test",
        cookie_domain: None,
        samesite: "lax",
    })
    .await;
}

/// Sibling hosts with `COOKIE_DOMAIN`: the access and CSRF cookies carry `Domain` and the
/// `__Secure-` prefix, the refresh and device cookies stay host-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sibling_hosts_with_a_cookie_domain() {
    signs_in(Topology {
        name: "sibling-hosts-cookie-domain",
        app_host: "app.example.test",
        api_host: "api.example.test",
        cookie_domain: Some("example.test"),
        samesite: "lax",
    })
    .await;
}

/// The app on another site than the API (what `template.yaml` gives without a custom domain):
/// `SameSite=None`. The default browser stores none of the cookies (recorded in the output);
/// with third-party cookies allowed the whole scenario passes and the other site's POST meets
/// the Origin check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_with_samesite_none() {
    signs_in(Topology {
        name: "cross-site",
        app_host: "app.example.test",
        api_host: "api.rampart-api.test",
        cookie_domain: None,
        samesite: "none",
    })
    .await;
}
