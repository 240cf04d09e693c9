//! In-process handler latency with criterion: webhooks-api's router behind the real
//! `lambda_http` adapter, fed API Gateway v2 (function URL) events, on the embedded in-memory
//! store. Goal: p50 <= 50 µs. Password hashing is not on these paths.

use criterion::{Criterion, criterion_group, criterion_main};
use rampart_perf::fixtures::{apigw_v2, invoke, stripe_delivery, webhooks_router};

fn handler(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = webhooks_router();
    let health = apigw_v2("GET", "/webhooks/health", &[], None);
    let dup = stripe_delivery("evt_criterion_dup");
    rt.block_on(invoke(&router, &dup));

    let mut g = c.benchmark_group("webhooks-api in-process");
    g.bench_function("GET /webhooks/health", |b| {
        b.iter(|| rt.block_on(invoke(&router, &health)))
    });
    g.bench_function("Stripe duplicate delivery", |b| {
        b.iter(|| rt.block_on(invoke(&router, &dup)))
    });
    let mut i = 0u64;
    g.bench_function("Stripe new event", |b| {
        b.iter_batched(
            || {
                i += 1;
                stripe_delivery(&format!("evt_criterion_{i}"))
            },
            |e| rt.block_on(invoke(&router, &e)),
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short on purpose: the machine is shared; compare within one run.
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = handler
}
criterion_main!(benches);
