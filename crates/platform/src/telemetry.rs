//! Logging setup: one JSON object per line (CloudWatch- and `jq`-friendly) by default,
//! human-readable on request. Every line carries the fields of the spans it was logged in
//! (request id, route, function, user id...), flattened next to its own fields, so an error
//! logged deep inside a request names that request.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogFormat, Settings, parse};

/// JSON lines with span fields flattened in: outer spans first, then inner ones, then the
/// event's own fields (a later name wins).
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        let mut ts = String::new();
        SystemTime.format_time(&mut Writer::new(&mut ts))?;
        line.insert("timestamp".into(), ts.into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("target".into(), event.metadata().target().into());
        let mut merge = |json: &str| {
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) {
                line.extend(fields);
            }
        };
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(f) = span.extensions().get::<FormattedFields<N>>() {
                    merge(&f.fields);
                }
            }
        }
        let mut fields = String::new();
        ctx.format_fields(Writer::new(&mut fields), event)?;
        merge(&fields);
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// The JSON subscriber `init` installs, writing to `writer` (tests capture it).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .fmt_fields(JsonFields::new())
        .event_format(FlatJson)
        .with_writer(writer)
        .finish()
}

/// Installs the global subscriber once; later calls are no-ops (tests build many states).
pub fn init(settings: &Settings) {
    // `Settings` refused an unparsable filter already; the fallback is for hand-built settings.
    let filter = parse::log_filter(&settings.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = match settings.log_format {
        LogFormat::Json => {
            tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stderr))
                .map_err(|e| e.to_string())
        }
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .compact()
            .try_init()
            .map_err(|e| e.to_string()),
    };
}

/// An address as logs may show it: the first character of the local part and the domain
/// (`a***@example.com`), enough to tell mails apart, not enough to collect addresses.
pub fn redact_email(address: &str) -> String {
    let address = address.trim();
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer tests read back.
    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn span_fields_are_flattened_into_every_line() {
        let out = Captured::default();
        let sub = json_subscriber(EnvFilter::new("info"), out.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!(
                "request",
                request_id = "r-1",
                user_id = tracing::field::Empty
            );
            let _g = span.enter();
            span.record("user_id", "u-9");
            tracing::error!(error = "boom", "internal error");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["user_id"], "u-9");
        assert_eq!(line["error"], "boom");
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["message"], "internal error");
    }

    #[test]
    fn emails_are_redacted_to_their_first_letter_and_domain() {
        assert_eq!(redact_email("Alice@example.com"), "A***@example.com");
        assert_eq!(redact_email("nonsense"), "***");
    }
}
