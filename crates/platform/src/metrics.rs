//! Operational counters, one vocabulary for every function: CloudWatch Embedded Metric Format
//! lines in Lambda (namespace `Rampart`, dimensions `function` plus the labels a count carries:
//! `provider`, `rule`, `route`), Prometheus text locally (`GET /_local/metrics`).
//!
//! Callers count through the `metrics` facade (`count(Metric::RateLimited, &[("rule", r)])`).
//! The recorder is ours: `metrics_cloudwatch_embedded` buffers until a flush wrapped around
//! every Lambda invocation and brings its own lambda_http/tower glue, and it has no Prometheus
//! side; one EMF line per event is what CloudWatch aggregates anyway, and the counters below
//! serve both outputs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ::metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder, SharedString,
    Unit,
};

/// The CloudWatch namespace every metric goes to.
pub const NAMESPACE: &str = "Rampart";

/// Everything Rampart counts. Names are the metric names in CloudWatch and (with `rampart_`
/// and `_total`) in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    WebhookReceived,
    WebhookDuplicate,
    WebhookInvalidSignature,
    WebhookFailed,
    WebhookOwnerBlocked,
    WebhookSuperseded,
    RateLimited,
    QuotaExceeded,
    IdempotentReplay,
    IdempotencyConflict,
    LoginFailure,
    RefreshReuseDetected,
    StoreFault,
    /// A gauge: the dead-letter queue depth the cron saw.
    DlqDepthSeen,
    /// A gauge (seconds): how long the oldest webhook event not processed yet (received,
    /// queued or claimed; not failed) has waited, as the cron's sweep saw it; 0 when none.
    WebhookOldestUnprocessedSecs,
    /// Items the retention job deleted, anonymised, or left alone under a legal hold (by policy).
    RetentionDeleted,
    RetentionAnonymised,
    RetentionHeld,
}

impl Metric {
    pub const ALL: &[Metric] = &[
        Metric::WebhookReceived,
        Metric::WebhookDuplicate,
        Metric::WebhookInvalidSignature,
        Metric::WebhookFailed,
        Metric::WebhookOwnerBlocked,
        Metric::WebhookSuperseded,
        Metric::RateLimited,
        Metric::QuotaExceeded,
        Metric::IdempotentReplay,
        Metric::IdempotencyConflict,
        Metric::LoginFailure,
        Metric::RefreshReuseDetected,
        Metric::StoreFault,
        Metric::DlqDepthSeen,
        Metric::WebhookOldestUnprocessedSecs,
        Metric::RetentionDeleted,
        Metric::RetentionAnonymised,
        Metric::RetentionHeld,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::WebhookReceived => "webhook_received",
            Metric::WebhookDuplicate => "webhook_duplicate",
            Metric::WebhookInvalidSignature => "webhook_invalid_signature",
            Metric::WebhookFailed => "webhook_failed",
            Metric::WebhookOwnerBlocked => "webhook_owner_blocked",
            Metric::WebhookSuperseded => "webhook_superseded",
            Metric::RateLimited => "rate_limited",
            Metric::QuotaExceeded => "quota_exceeded",
            Metric::IdempotentReplay => "idempotent_replay",
            Metric::IdempotencyConflict => "idempotency_conflict",
            Metric::LoginFailure => "login_failure",
            Metric::RefreshReuseDetected => "refresh_reuse_detected",
            Metric::StoreFault => "store_fault",
            Metric::DlqDepthSeen => "dlq_depth_seen",
            Metric::WebhookOldestUnprocessedSecs => "webhook_oldest_unprocessed_secs",
            Metric::RetentionDeleted => "retention_deleted",
            Metric::RetentionAnonymised => "retention_anonymised",
            Metric::RetentionHeld => "retention_held",
        }
    }

    /// The CloudWatch unit of its EMF lines.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::WebhookOldestUnprocessedSecs => "Seconds",
            _ => "Count",
        }
    }

    /// The metric of a CloudWatch name, if it is one of ours.
    pub fn named(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// Counts one occurrence, labelled (`provider`, `rule`, `route`). A no-op until `install`.
pub fn count(metric: Metric, labels: &[(&'static str, &str)]) {
    let labels: Vec<::metrics::Label> = labels
        .iter()
        .map(|(k, v)| ::metrics::Label::new(*k, v.to_string()))
        .collect();
    ::metrics::counter!(metric.name(), labels).increment(1);
}

/// Counts `n` occurrences at once (one EMF line), e.g. a batch job's total per run.
pub fn count_by(metric: Metric, n: u64, labels: &[(&'static str, &str)]) {
    let labels: Vec<::metrics::Label> = labels
        .iter()
        .map(|(k, v)| ::metrics::Label::new(*k, v.to_string()))
        .collect();
    ::metrics::counter!(metric.name(), labels).increment(n);
}

/// Records the latest value of a gauge metric.
pub fn gauge(metric: Metric, value: f64) {
    ::metrics::gauge!(metric.name()).set(value);
}

/// Installs the process-wide recorder once: `function` is the dimension every metric carries,
/// `emf` whether each count is also written as an EMF line to stdout (in Lambda).
pub fn install(function: &str, emf: bool) -> &'static Registry {
    INSTALLED.get_or_init(|| {
        let registry: &'static Registry = Box::leak(Box::new(Registry {
            emf,
            ..Registry::new(function)
        }));
        if ::metrics::set_global_recorder(RecorderRef(registry)).is_err() {
            tracing::warn!("a metrics recorder was already installed; counts go there");
        }
        registry
    })
}

/// The installed registry, if any (the local `/_local/metrics` route reads it).
pub fn registry() -> Option<&'static Registry> {
    INSTALLED.get().copied()
}

static INSTALLED: OnceLock<&'static Registry> = OnceLock::new();

/// Runs `f` with every count made on this thread going to `registry` instead of the
/// process-wide one: what one flow counted, undisturbed by others running in parallel (tests
/// run a current-thread runtime inside `f`).
pub fn counting<R>(registry: &Registry, f: impl FnOnce() -> R) -> R {
    ::metrics::with_local_recorder(registry, f)
}

/// One series: a metric name and its labels.
type SeriesKey = (String, Vec<(String, String)>);

/// Every series seen in this process with its current value.
pub struct Registry {
    function: String,
    emf: bool,
    cells: Mutex<BTreeMap<SeriesKey, Arc<Cell>>>,
}

struct Cell {
    key: SeriesKey,
    value: AtomicU64,
    gauge: bool,
    function: String,
    emf: bool,
}

impl Registry {
    /// A registry of its own, never installed process-wide (see `counting`).
    pub fn new(function: &str) -> Self {
        Self {
            function: function.to_string(),
            emf: false,
            cells: Mutex::new(BTreeMap::new()),
        }
    }

    fn cell(&self, key: &Key, gauge: bool) -> Arc<Cell> {
        let labels = key
            .labels()
            .map(|l| (l.key().to_string(), l.value().to_string()))
            .collect();
        let series = (key.name().to_string(), labels);
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .entry(series.clone())
            .or_insert_with(|| {
                Arc::new(Cell {
                    key: series,
                    value: AtomicU64::new(0),
                    gauge,
                    function: self.function.clone(),
                    emf: self.emf,
                })
            })
            .clone()
    }

    /// The current value of a series (tests and the local route).
    pub fn value(&self, metric: Metric, labels: &[(&str, &str)]) -> u64 {
        let want: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        cells
            .get(&(metric.name().to_string(), want))
            .map_or(0, |c| c.get())
    }

    /// Prometheus text exposition format 0.0.4.
    pub fn prometheus(&self) -> String {
        let cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut typed = std::collections::BTreeSet::new();
        for cell in cells.values() {
            let (name, labels) = &cell.key;
            let metric = if cell.gauge {
                format!("rampart_{name}")
            } else {
                format!("rampart_{name}_total")
            };
            if typed.insert(metric.clone()) {
                let kind = if cell.gauge { "gauge" } else { "counter" };
                let _ = writeln!(out, "# TYPE {metric} {kind}");
            }
            let mut all = vec![("function".to_string(), self.function.clone())];
            all.extend(labels.iter().cloned());
            let rendered: Vec<String> = all
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let _ = writeln!(out, "{metric}{{{}}} {}", rendered.join(","), cell.get());
        }
        out
    }
}

impl Cell {
    fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }

    fn emit(&self, value: u64) {
        if self.emf {
            println!(
                "{}",
                emf_line(&self.function, &self.key.0, &self.key.1, value, now_ms())
            );
        }
    }
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.value.fetch_add(value, Ordering::Relaxed);
        self.emit(value);
    }
    fn absolute(&self, value: u64) {
        self.value.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.value
            .fetch_add(value.max(0.0) as u64, Ordering::Relaxed);
    }
    fn decrement(&self, value: f64) {
        let by = value.max(0.0) as u64;
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(by))
            });
    }
    fn set(&self, value: f64) {
        let v = value.max(0.0) as u64;
        self.value.store(v, Ordering::Relaxed);
        self.emit(v);
    }
}

struct RecorderRef(&'static Registry);

impl Recorder for RecorderRef {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, m)
    }
    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, m)
    }
    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, m)
    }
}

impl Recorder for Registry {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key, false))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key, true))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn now_ms() -> i64 {
    use crate::clock::Clock;
    crate::clock::SystemClock.now_ms()
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One EMF document (AWS CloudWatch Embedded Metric Format specification): the metric under
/// namespace `Rampart` in its unit (`Metric::unit`; Count for names not ours), with `function`
/// and the labels as its dimension set.
pub fn emf_line(
    function: &str,
    name: &str,
    labels: &[(String, String)],
    value: u64,
    timestamp_ms: i64,
) -> String {
    let unit = Metric::named(name).map_or("Count", Metric::unit);
    let mut dims = vec!["function".to_string()];
    dims.extend(labels.iter().map(|(k, _)| k.clone()));
    // Also the function-only rollup, so one alarm per function covers every provider/rule.
    let mut sets = vec![serde_json::json!(dims)];
    if dims.len() > 1 {
        sets.push(serde_json::json!(["function"]));
    }
    let mut doc = serde_json::json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{ "Name": name, "Unit": unit }],
            }],
        },
        "function": function,
    });
    for (k, v) in labels {
        doc[k] = serde_json::Value::String(v.clone());
    }
    doc[name] = serde_json::Value::from(value);
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_namespace_dimensions_and_value() {
        let line = emf_line(
            "webhooks-api",
            "webhook_received",
            &[("provider".into(), "stripe".into())],
            1,
            1_767_225_600_000,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Rampart");
        assert_eq!(
            cw["Dimensions"][0],
            serde_json::json!(["function", "provider"])
        );
        assert_eq!(cw["Metrics"][0]["Name"], "webhook_received");
        assert_eq!(v["_aws"]["Timestamp"], 1_767_225_600_000i64);
        assert_eq!(v["function"], "webhooks-api");
        assert_eq!(v["provider"], "stripe");
        assert_eq!(v["webhook_received"], 1);
        assert_eq!(cw["Metrics"][0]["Unit"], "Count");
    }

    #[test]
    fn an_age_is_in_seconds() {
        let line = emf_line(
            "cleanup-cron",
            "webhook_oldest_unprocessed_secs",
            &[],
            420,
            1_767_225_600_000,
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Metrics"][0]["Unit"], "Seconds");
        assert_eq!(cw["Dimensions"], serde_json::json!([["function"]]));
        assert_eq!(v["webhook_oldest_unprocessed_secs"], 420);
    }
}
