//! `ALLOWED_HOSTS`: the host names the API answers for. A request whose `Host` names another is
//! refused before any route sees it (rampart-http's host layer), so nothing built from `Host`
//! (absolute URLs, redirects, cache keys) can be steered by a forged one (OWASP Web Security
//! Testing Guide, WSTG-INPV-17 "Testing for Host Header Injection"; Django's `ALLOWED_HOSTS`,
//! Starlette's `TrustedHostMiddleware`). Empty means any host: local development.

use super::parse;
use super::setting::{Fallback, Kind, Setting};

/// One entry: a host name (or IP literal), or `*.` and a domain for every subdomain of it, with
/// an optional port (`None`: any port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lowercase, without a trailing dot; for a wildcard, the domain after `*.`.
    host: String,
    subdomains: bool,
    port: Option<u16>,
}

/// `host[:port]` split, the host lowercased without a trailing dot (`Example.COM.` names
/// `example.com`); an IPv6 literal keeps its brackets (RFC 3986 3.2.2). `None` when what follows
/// the host is not `:` and a port number.
fn split(raw: &str) -> Option<(String, Option<u16>)> {
    let (host, after) = match raw.strip_prefix('[') {
        Some(rest) => raw.split_at(rest.find(']')? + 2),
        None => raw.split_at(raw.find(':').unwrap_or(raw.len())),
    };
    let port = match after.strip_prefix(':') {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None if after.is_empty() => None,
        None => return None,
    };
    Some((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

/// Letters, digits, hyphens and dots (RFC 1123 host names, IPv4 literals), or a bracketed IPv6
/// literal.
fn is_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl HostPattern {
    pub fn parse(entry: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "entry {entry:?} must be a host name with an optional :port, or *.domain for its \
                 subdomains (no scheme, path or other wildcard)"
            )
        };
        let (rest, subdomains) = match entry.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (entry, false),
        };
        let (host, port) = split(rest).ok_or_else(bad)?;
        // A wildcard names a domain of at least two labels: `*.com` would admit a whole TLD.
        let domain = !host.starts_with('[') && host.contains('.');
        if !is_host(&host) || (subdomains && !domain) {
            return Err(bad());
        }
        Ok(Self {
            host,
            subdomains,
            port,
        })
    }

    /// Whether a request's `Host` value (`host[:port]`) is this entry's.
    pub fn admits(&self, host: &str, port: Option<u16>) -> bool {
        let name = if self.subdomains {
            host.strip_suffix(&self.host)
                .and_then(|sub| sub.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty())
        } else {
            host == self.host
        };
        name && self.port.is_none_or(|p| Some(p) == port)
    }
}

/// Whether `value` (a request's `Host`) is admitted by `allowed` (empty: every host).
pub fn host_allowed(allowed: &[HostPattern], value: &str) -> bool {
    if allowed.is_empty() {
        return true;
    }
    match split(value.trim()) {
        Some((host, port)) if is_host(&host) => allowed.iter().any(|p| p.admits(&host, port)),
        _ => false,
    }
}

pub(super) const ALLOWED_HOSTS: Setting = Setting {
    name: "ALLOWED_HOSTS",
    kind: Kind::List,
    default: Fallback::Unset("(empty: any host)"),
    production: None,
    doc: "comma-separated host names the API answers for, each with an optional `:port` (without one, any port), `*.example.com` for every subdomain of example.com; any other `Host` gets 400 `host-not-allowed`; template.yaml sets it (docs/deploy.md)",
    apply: |s, v| {
        s.allowed_hosts = parse::list(v.unwrap_or_default())
            .map(HostPattern::parse)
            .collect::<Result<_, _>>()?;
        Ok(())
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &str) -> Vec<HostPattern> {
        parse::list(list)
            .map(|e| HostPattern::parse(e).unwrap())
            .collect()
    }

    #[test]
    fn exact_hosts_match_in_any_case_and_on_any_port_unless_one_is_named() {
        let a = allowed("api.example.com, localhost:3000");
        for ok in [
            "api.example.com",
            "API.Example.com:443",
            "api.example.com.",
            "localhost:3000",
        ] {
            assert!(host_allowed(&a, ok), "{ok}");
        }
        for no in [
            "evil.example",
            "localhost",
            "localhost:3001",
            "api.example.com.evil.example",
            "xapi.example.com",
            "",
            "api.example.com:x",
            "api.example.com/path",
        ] {
            assert!(!host_allowed(&a, no), "{no}");
        }
    }

    #[test]
    fn a_wildcard_admits_subdomains_only() {
        let a = allowed("*.lambda-url.eu-west-1.on.aws");
        assert!(host_allowed(&a, "abc123.lambda-url.eu-west-1.on.aws"));
        assert!(!host_allowed(&a, "lambda-url.eu-west-1.on.aws"));
        assert!(!host_allowed(
            &a,
            "abc.lambda-url.eu-west-1.on.aws.evil.example"
        ));
        assert!(!host_allowed(&a, "abclambda-url.eu-west-1.on.aws"));
    }

    #[test]
    fn ip_literals_are_hosts_and_an_empty_list_admits_everything() {
        let a = allowed("127.0.0.1:3000, [::1]");
        assert!(host_allowed(&a, "127.0.0.1:3000"));
        assert!(host_allowed(&a, "[::1]:8080"));
        assert!(!host_allowed(&a, "127.0.0.2:3000"));
        assert!(host_allowed(&[], "anything.example"));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in [
            "*",
            "https://api.example.com",
            "api.example.com/",
            "*.com:x",
            "a.*.example.com",
            "*example.com",
            "*.com",
            "api.example.com:99999",
            "*.[::1]",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
