//! Who the client is when a proxy stands in between. The TCP peer of a
//! request behind nginx is nginx; the person's address is in
//! `X-Forwarded-For`, which anyone can also send themselves. So the header
//! counts only when the peer is one of `TRUSTED_PROXIES` (CIDRs or single
//! addresses), and then it is read from the right: each trusted hop is
//! skipped, and the first address no trusted proxy vouches for is the
//! client. Without trusted proxies the header is ignored. Every
//! per-address limit (sign-ups, logins, history reads, open connections)
//! counts by this address's [`ClientKey`] (an IPv6 client by its /64),
//! through the [`ClientAddr`] extractor or, for raw TCP peers,
//! [`ClientKey::of`]. Likewise `X-Forwarded-Proto` from a trusted proxy
//! tells whether the visitor came over https ([`Scheme`]): then cookies
//! are marked Secure, HSTS is sent, and an `Origin` must say https.
//! Must never import storage or the layer.

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts, Request, State},
    http::{HeaderMap, request::Parts},
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;
use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

/// The proxies whose `X-Forwarded-For` we believe (`TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `TRUSTED_PROXIES`: comma-separated CIDRs (`10.0.0.0/8`) or
    /// addresses (`127.0.0.1`, `::1`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "TRUSTED_PROXIES: {s:?} is not an address or a CIDR like 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn trusts(&self, addr: &IpAddr) -> bool {
        let addr = canonical(*addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client behind `peer`, as the headers say if `peer` is trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .map(|hop| hop.parse::<IpAddr>().ok())
            .collect::<Option<_>>()
            // A hop we cannot read: believe none of it.
            .unwrap_or_default();
        hops.into_iter()
            .rev()
            .find(|hop| !self.trusts(hop))
            .map(canonical)
            .unwrap_or(peer)
    }
}

impl TrustedProxies {
    /// How the visitor reached the first proxy: what a trusted peer's
    /// `X-Forwarded-Proto` says (its last value: the one it set), or
    /// `Unknown` (we serve plain HTTP; a proxy we do not trust may still
    /// have spoken TLS to the browser).
    pub fn scheme(&self, peer: IpAddr, headers: &HeaderMap) -> Scheme {
        if !self.trusts(&peer) {
            return Scheme::Unknown;
        }
        let said = headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .next_back();
        match said.map(str::to_ascii_lowercase).as_deref() {
            Some("https") => Scheme::Https,
            Some("http") => Scheme::Http,
            _ => Scheme::Unknown,
        }
    }
}

/// Whether the visitor's browser is on https, as far as we can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheme {
    #[default]
    Unknown,
    Http,
    Https,
}

/// Reads the scheme once per request (see [`TrustedProxies::scheme`]) and
/// leaves it in the request for the origin check, cookies and HSTS.
pub async fn learn_scheme(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let scheme = peer.map_or(Scheme::Unknown, |peer| {
        trusted.scheme(peer, request.headers())
    });
    request.extensions_mut().insert(scheme);
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Scheme {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Scheme>()
            .copied()
            .unwrap_or_default())
    }
}

/// `::ffff:10.0.0.1` is `10.0.0.1`: IPv4 peers on a dual-stack socket.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// What every per-address limit counts by: an IPv4 address, or an IPv6
/// client's /64. Any VPS or home line gets a whole /64, so counting by
/// /128 would hand one person 2^64 budgets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The one place an address becomes a key.
    pub fn of(addr: IpAddr) -> Self {
        match canonical(addr) {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                Self(IpAddr::V6(network.into()))
            }
            v4 => Self(v4),
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(_) => write!(f, "{}/64", self.0),
            v4 => v4.fmt(f),
        }
    }
}

/// The client's address (the TCP peer, or what a trusted proxy says), as
/// the key limits count it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub ClientKey);

impl ClientAddr {
    /// The client of a request whose parts a handler already holds (a
    /// server function's).
    pub fn of(trusted: &TrustedProxies, parts: &Parts) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Self(ClientKey::of(trusted.client(peer, &parts.headers)))
    }
}

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    Arc<TrustedProxies>: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(Self::of(&Arc::<TrustedProxies>::from_ref(state), parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.5"), &forwarded("1.2.3.4")),
            ip("10.0.0.5")
        );
        let nginx = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        assert_eq!(
            nginx.client(ip("127.0.0.1"), &forwarded("1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(
            nginx.client(ip("192.0.2.9"), &forwarded("1.2.3.4")),
            ip("192.0.2.9")
        );
        assert_eq!(
            nginx.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_forged_left_end_is_not_believed() {
        let nginx = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client sent "6.6.6.6" itself; nginx appended the real peer.
        let headers = forwarded("6.6.6.6, 1.2.3.4, 10.0.0.7");
        assert_eq!(nginx.client(ip("10.0.0.2"), &headers), ip("1.2.3.4"));
        assert_eq!(
            nginx.client(ip("10.0.0.2"), &forwarded("junk, 1.2.3.4")),
            ip("10.0.0.2")
        );
        assert_eq!(
            nginx.client(ip("::ffff:10.0.0.2"), &forwarded("1.2.3.4")),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_ipv4_by_its_address() {
        let key = |s: &str| ClientKey::of(ip(s));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn the_scheme_counts_only_from_a_trusted_peer() {
        let nginx = TrustedProxies::parse("127.0.0.1").unwrap();
        let mut tls = HeaderMap::new();
        tls.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert_eq!(nginx.scheme(ip("127.0.0.1"), &tls), Scheme::Https);
        assert_eq!(nginx.scheme(ip("192.0.2.1"), &tls), Scheme::Unknown);
        tls.append("x-forwarded-proto", HeaderValue::from_static("http"));
        assert_eq!(nginx.scheme(ip("127.0.0.1"), &tls), Scheme::Http);
        assert_eq!(
            nginx.scheme(ip("127.0.0.1"), &HeaderMap::new()),
            Scheme::Unknown
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("nginx").is_err());
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }
}
