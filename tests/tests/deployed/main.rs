//! The bundle in its deployed shape, driven by template.yaml: every function's binary
//! as its own process under a Lambda Runtime API emulator, with the environment, timeout and
//! IAM policy the template gives it, behind the template's HTTP API routes and the webhooks
//! function URL, over moto with IAM enforced, the jobs queue drained by the declared event
//! source mapping, the schedules' payloads invoked into the cron. The flows below go through
//! the fronts only; a route, an environment value or a permission removed from the template
//! fails them. At the end the test prints the granted permissions no flow used.
//!
//! Run it alone: `. scripts/peers.sh && install_peers && cargo test --workspace -- the_bundle_works
//! --nocapture` (it starts its own moto and localstripe). `--workspace` keeps the feature set of
//! `./scripts/test`, so the harness only links the function binaries; `-p rampart-tests --test
//! deployed` resolves dev-dependency features differently and rebuilds the tree.
//! `RAMPART_DEPLOYED_ECHO=1` prints every function's log lines; `RAMPART_DEPLOYED_NO_BUILD=1`
//! uses the binaries as they are (for trying template.yaml edits without a rebuild).

mod checks;
mod flows;
mod front;
mod iam;
mod lambda;
mod proxy;
mod routes;
mod sqs;
mod stack;
mod template;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use stack::Stack;

type Scenario = for<'a> fn(&'a Stack) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Each scenario, in order (later ones build on nothing earlier ones leave, except the
/// accounts they make for themselves).
const SCENARIOS: &[(&str, Scenario)] = &[
    ("every function starts", |s| {
        Box::pin(flows::every_function_starts(s))
    }),
    ("register and log in", |s| {
        Box::pin(flows::register_and_log_in(s))
    }),
    ("GET /openapi.json", |s| Box::pin(flows::openapi_json(s))),
    ("every operation reaches its function", |s| {
        Box::pin(routes::every_operation_reaches_its_function(s))
    }),
    ("CORS preflights reach the app", |s| {
        Box::pin(routes::preflights_reach_the_app(s))
    }),
    ("an order paid through Stripe is activated", |s| {
        Box::pin(flows::order_paid_through_stripe(s))
    }),
    ("operator routes are not on the function URL", |s| {
        Box::pin(flows::operator_routes_not_on_the_function_url(s))
    }),
    ("Twilio signs the function URL", |s| {
        Box::pin(flows::twilio_signs_the_function_url(s))
    }),
    ("licenses name the configured issuer", |s| {
        Box::pin(flows::licenses(s))
    }),
    ("billing reads", |s| Box::pin(flows::billing_reads(s))),
    ("legal holds", |s| Box::pin(flows::legal_holds(s))),
    ("GDPR export and erasure", |s| {
        Box::pin(flows::gdpr_export_and_erasure(s))
    }),
    ("retention: dry run and the schedules", |s| {
        Box::pin(flows::retention(s))
    }),
    ("poison jobs end in the dead-letter queue", |s| {
        Box::pin(flows::dead_letters(s))
    }),
];

#[test]
fn the_bundle_works_in_its_deployed_shape() {
    if !template::venv_python().exists() {
        if std::env::var("RAMPART_REQUIRE_AWS").is_ok_and(|v| v == "1") {
            panic!("the test peers (.tools/venv) are not installed: run scripts/test");
        }
        eprintln!("skipped: the test peers are not installed (scripts/test installs them)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let began = Instant::now();
        let stack = match Stack::up().await {
            Ok(s) => s,
            Err(why) => panic!("the stack did not come up: {why}"),
        };
        let stack: &'static Stack = Box::leak(Box::new(stack));
        let mut failures = Vec::new();
        let mut lines = vec![format!(
            "deployed shape (tests/tests/deployed): stack up in {:.1} s",
            began.elapsed().as_secs_f64()
        )];
        eprintln!("{}", lines[0]);
        for (name, scenario) in SCENARIOS {
            let t0 = Instant::now();
            let run = tokio::spawn(scenario(stack));
            match run.await {
                Ok(()) => lines.push(format!(
                    "  ok   {name} ({:.1} s)",
                    t0.elapsed().as_secs_f64()
                )),
                Err(e) => {
                    let why = e
                        .try_into_panic()
                        .ok()
                        .and_then(|p| {
                            p.downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        })
                        .unwrap_or_else(|| "cancelled".into());
                    lines.push(format!("  FAIL {name}"));
                    failures.push(format!("{name}: {why}"));
                }
            }
            eprintln!("{}", lines.last().expect("a line"));
        }
        let denials = stack.proxy.denials();
        lines.push(flows::unused_grants(stack));
        stack.shut_down().await;
        lines.push(format!(
            "{} scenarios, {} failed, in {:.1} s",
            SCENARIOS.len(),
            failures.len(),
            began.elapsed().as_secs_f64()
        ));
        let text = lines.join("\n");
        eprintln!("{}", lines[lines.len() - 2..].join("\n"));
        let _ = std::fs::write(stack::report_path(), text + "\n");
        let mut report = failures.join("\n\n");
        if !denials.is_empty() {
            report.push_str(&format!(
                "\n\nAWS calls the template's policies denied:\n  {}",
                denials.join("\n  ")
            ));
        }
        assert!(
            failures.is_empty() && denials.is_empty(),
            "the deployed shape failed:\n\n{report}"
        );
    });
}
