//! Parsers for setting values: each takes the trimmed text and says what is wrong in words an
//! operator understands; the caller prefixes the setting's name.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

pub fn number<T: FromStr>(raw: &str) -> Result<T, String> {
    raw.parse()
        .map_err(|_| format!("must be a whole number, got {raw:?}"))
}

pub fn boolean(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("must be true or false, got {other:?}")),
    }
}

/// Comma-separated entries, blanks dropped.
pub fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Exact `scheme://host[:port]` origins, lowercased; a wildcard is refused in every environment.
pub fn origins(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for o in list(raw) {
        if o.contains('*') {
            return Err("must list exact origins; a wildcard is refused".into());
        }
        let rest = o
            .strip_prefix("https://")
            .or_else(|| o.strip_prefix("http://"))
            .ok_or_else(|| format!("entry {o:?} is not an http(s) origin"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "entry {o:?} must be scheme://host[:port] with no path"
            ));
        }
        out.push(o.to_ascii_lowercase());
    }
    Ok(out)
}

/// CIDRs or single addresses.
pub fn cidrs(raw: &str) -> Result<Vec<IpNet>, String> {
    list(raw)
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("entry {s:?} is not a CIDR or IP"))
        })
        .collect()
}

/// A rate `<n>/<window>`: `100/m`, `5/h`, `25/d`, `10/30s`, `5/24h`.
pub fn rate(spec: &str) -> Option<(u32, Duration)> {
    let (n, per) = spec.trim().split_once('/')?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
    let per = per.trim();
    let unit_at = per.find(|c: char| !c.is_ascii_digit()).unwrap_or(per.len());
    let (count, unit) = per.split_at(unit_at);
    let count: u64 = if count.is_empty() {
        1
    } else {
        count.parse().ok().filter(|c| *c > 0)?
    };
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    Some((n, Duration::from_secs(count * secs)))
}

/// `tier=price_id` pairs, returned as (price id, tier).
pub fn prices(raw: &str) -> Result<Vec<(String, String)>, String> {
    list(raw)
        .map(|entry| {
            let (tier, price) = entry
                .split_once('=')
                .ok_or_else(|| format!("entry {entry:?} must be tier=price_id"))?;
            Ok((price.trim().to_string(), tier.trim().to_string()))
        })
        .collect()
}

/// A `RUST_LOG` filter, parsed the way the subscriber will parse it: a filter the subscriber
/// would reject (or silently reinterpret) is refused here rather than guessed at.
pub fn log_filter(raw: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(raw)
        .map_err(|e| format!("is not a valid log filter ({e})"))
}

/// The most verbose level `filter` can ever enable (`None`: unknown, treated as everything).
pub fn most_verbose(filter: &EnvFilter) -> LevelFilter {
    filter.max_level_hint().unwrap_or(LevelFilter::TRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(rate("100/m"), Some((100, Duration::from_secs(60))));
        assert_eq!(rate("5/24h"), Some((5, Duration::from_secs(86_400))));
        assert_eq!(rate("1/60s"), Some((1, Duration::from_secs(60))));
        assert_eq!(rate("0/m"), None);
        assert_eq!(rate("5/w"), None);
    }

    #[test]
    fn log_filters_report_their_most_verbose_level() {
        let level = |s: &str| most_verbose(&log_filter(s).unwrap());
        assert_eq!(level("info"), LevelFilter::INFO);
        assert_eq!(level("warn,rampart=info"), LevelFilter::INFO);
        // A bare number is a level (5 = trace), a bare target enables everything for it.
        assert_eq!(level("5"), LevelFilter::TRACE);
        assert_eq!(level("rampart"), LevelFilter::TRACE);
        assert_eq!(level("info,aws_smithy_runtime=4"), LevelFilter::DEBUG);
        assert!(log_filter("info,=[").is_err());
    }
}
