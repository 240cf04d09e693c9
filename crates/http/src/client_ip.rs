//! The client's IP: API Gateway's source IP in Lambda; locally the peer address, or the
//! right-most untrusted `X-Forwarded-For` hop when the peer is a trusted proxy.
//!
//! Only the right-most entries were appended by proxies we trust; anything to their left was
//! sent by the client and can be forged (OWASP: never trust the left-most XFF entry).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use rampart_platform::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub fn resolve(peer: Option<IpAddr>, xff: Option<&str>, trusted: &[IpNet]) -> Option<IpAddr> {
    // An IPv4 peer seen through an IPv6 socket (`::ffff:a.b.c.d`) is matched as IPv4.
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<IpAddr> = xff
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter_map(|h| {
            h.parse::<IpAddr>()
                .ok()
                .or_else(|| h.parse::<SocketAddr>().ok().map(|s| s.ip()))
        })
        .map(|ip| ip.to_canonical())
        .collect();
    // Walk from the right past our own proxies; the first hop we do not trust is the client.
    Some(
        hops.iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .copied()
            .or(hops.first().copied())
            .unwrap_or(peer),
    )
}

pub(super) async fn layer(trusted: Vec<IpNet>, mut req: Request, next: Next) -> Response {
    let ip = crate::lambda::source_ip(&req).or_else(|| {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Every X-Forwarded-For line, in order: a proxy may add its own line instead of
        // extending the client's.
        let xff: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        resolve(peer, Some(xff.join(",").as_str()), &trusted)
    });
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| {
            ApiError::BadRequest("The client address could not be determined.".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_is_the_client_and_xff_is_ignored() {
        assert_eq!(
            resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), &[]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn trusted_proxy_yields_rightmost_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let got = resolve(
            Some(ip("10.0.0.2")),
            Some("6.6.6.6, 198.51.100.7, 10.0.0.9"),
            &trusted,
        );
        assert_eq!(
            got,
            Some(ip("198.51.100.7")),
            "the forged left-most entry is not believed"
        );
        let all_trusted = resolve(Some(ip("10.0.0.2")), Some("10.1.1.1"), &trusted);
        assert_eq!(all_trusted, Some(ip("10.1.1.1")));
        assert_eq!(
            resolve(Some(ip("10.0.0.2")), Some("garbage"), &trusted),
            Some(ip("10.0.0.2"))
        );
    }
}
