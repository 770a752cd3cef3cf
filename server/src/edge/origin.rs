//! Which web pages may open a WebSocket to us or send us a state-changing
//! request (a form post, a `fetch`), like Channels'
//! `AllowedHostsOriginValidator` and Django's CSRF origin check: browsers
//! send `Origin` on every WebSocket upgrade and every cross-site POST, so
//! checking it stops another site's page from using a visitor's session
//! against us (login CSRF included). Without `Origin`, a browser's
//! `Sec-Fetch-Site` says where the request came from.
//!
//! - `ALLOWED_ORIGINS` set (comma-separated, e.g.
//!   `https://chat.example.com,https://example.com`): exactly those, or any
//!   origin if it contains `*`.
//! - Not set: the server's own host (the request's `Host`), plus
//!   `localhost`/`127.0.0.1`/`[::1]` on our port when bound to loopback.
//! - No `Origin` header: `Sec-Fetch-Site: same-site` or `cross-site` is
//!   refused; with neither header the request is allowed. Only
//!   non-browser clients (bots, scripts) omit both, and they can set any
//!   header they like anyway: what we stop is a browser carrying a
//!   visitor's cookie on another site's behalf.
//!
//! The own-host rule compares schemes too when a trusted proxy says which
//! one the visitor used ([`Scheme`]): an `http://` page cannot act on an
//! `https://` site of the same name.
//!
//! Checked at the upgrade and on every non-GET request ([`crate::edge::security`]);
//! must never import storage or the layer.

use super::proxy::Scheme;
use axum::http::{HeaderMap, header};
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct OriginPolicy {
    rule: Rule,
}

#[derive(Clone, Debug)]
enum Rule {
    Any,
    List(Vec<Origin>),
    SameHost { loopback_port: Option<u16> },
}

/// A parsed `scheme://host[:port]`, with the scheme's default port filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(s: &str) -> Option<Self> {
        let (scheme, authority) = s.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        let (host, port) = split_host_port(authority, default_port)?;
        Some(Self { scheme, host, port })
    }
}

/// Splits `host[:port]` (IPv6 in brackets), lower-casing the host.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            (&authority[..i], authority[i + 1..].parse().ok()?)
        }
        _ => (authority, default_port),
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// Why an upgrade was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct OriginRefused(pub String);

impl OriginPolicy {
    /// `configured` is `ALLOWED_ORIGINS` split on commas; `bound` is the
    /// address the server listens on.
    pub fn new(configured: &[String], bound: SocketAddr) -> Result<Self, String> {
        let entries: Vec<&str> = configured
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        let rule = if entries.contains(&"*") {
            Rule::Any
        } else if entries.is_empty() {
            Rule::SameHost {
                loopback_port: bound.ip().is_loopback().then_some(bound.port()),
            }
        } else {
            let origins = entries
                .iter()
                .map(|e| {
                    Origin::parse(e).ok_or_else(|| {
                        format!(
                            "ALLOWED_ORIGINS: {e:?} is not an origin like https://chat.example.com"
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
            Rule::List(origins)
        };
        Ok(Self { rule })
    }

    /// `scheme`: how the visitor reached us, if a trusted proxy said.
    pub fn check(&self, headers: &HeaderMap, scheme: Scheme) -> Result<(), OriginRefused> {
        let Some(raw) = headers.get(header::ORIGIN) else {
            return self.check_fetch_site(headers);
        };
        let raw = raw.to_str().unwrap_or("");
        let refused = || OriginRefused(format!("Origin {raw:?} is not allowed to connect."));
        if matches!(self.rule, Rule::Any) {
            return Ok(());
        }
        let origin = Origin::parse(raw).ok_or_else(refused)?;
        let allowed = match &self.rule {
            Rule::Any => true,
            Rule::List(list) => list.contains(&origin),
            Rule::SameHost { loopback_port } => {
                let same_scheme = match scheme {
                    Scheme::Unknown => true,
                    Scheme::Http => origin.scheme == "http",
                    Scheme::Https => origin.scheme == "https",
                };
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| split_host_port(h, origin.port));
                let same_host = host.is_some_and(|(h, p)| h == origin.host && p == origin.port);
                let local = loopback_port.is_some_and(|port| {
                    origin.port == port
                        && matches!(origin.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
                });
                same_scheme && (same_host || local)
            }
        };
        if allowed { Ok(()) } else { Err(refused()) }
    }

    /// Without `Origin`: a browser's own word on where the request came from.
    fn check_fetch_site(&self, headers: &HeaderMap) -> Result<(), OriginRefused> {
        let site = headers
            .get("sec-fetch-site")
            .map(|v| v.to_str().unwrap_or("cross-site").to_ascii_lowercase());
        match site.as_deref() {
            Some("same-site" | "cross-site") if !matches!(self.rule, Rule::Any) => Err(
                OriginRefused("Requests from other sites are not allowed.".to_owned()),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    impl OriginPolicy {
        /// Checked without knowing the visitor's scheme (no trusted proxy).
        fn check_any(&self, headers: &HeaderMap) -> Result<(), OriginRefused> {
            self.check(headers, Scheme::Unknown)
        }
    }

    fn policy(configured: &[&str], bound: &str) -> OriginPolicy {
        let configured: Vec<String> = configured.iter().map(|s| s.to_string()).collect();
        OriginPolicy::new(&configured, bound.parse().unwrap()).unwrap()
    }

    #[test]
    fn default_allows_own_host_and_loopback_forms() {
        let p = policy(&[], "127.0.0.1:3000");
        for origin in [
            "http://127.0.0.1:3000",
            "http://localhost:3000",
            "http://LOCALHOST:3000",
            "http://[::1]:3000",
        ] {
            assert!(
                p.check_any(&headers(Some(origin), "127.0.0.1:3000"))
                    .is_ok(),
                "{origin}"
            );
        }
        assert!(p.check_any(&headers(None, "127.0.0.1:3000")).is_ok());
        for origin in [
            "http://evil.example",
            "http://localhost:4000",
            "null",
            "file://x",
        ] {
            assert!(
                p.check_any(&headers(Some(origin), "127.0.0.1:3000"))
                    .is_err(),
                "{origin}"
            );
        }
    }

    #[test]
    fn default_on_a_public_address_allows_only_the_host() {
        let p = policy(&[], "0.0.0.0:80");
        assert!(
            p.check_any(&headers(
                Some("https://chat.example.com"),
                "chat.example.com"
            ))
            .is_ok()
        );
        assert!(
            p.check_any(&headers(
                Some("http://chat.example.com"),
                "chat.example.com"
            ))
            .is_ok()
        );
        assert!(
            p.check_any(&headers(Some("http://localhost"), "chat.example.com"))
                .is_err()
        );
        assert!(
            p.check_any(&headers(Some("https://evil.com"), "chat.example.com"))
                .is_err()
        );
    }

    #[test]
    fn behind_a_proxy_that_says_https_an_http_page_is_another_site() {
        let p = policy(&[], "0.0.0.0:80");
        let h = headers(Some("https://chat.example.com"), "chat.example.com");
        assert!(p.check(&h, Scheme::Https).is_ok());
        assert!(p.check(&h, Scheme::Http).is_err());
        let plain = headers(Some("http://chat.example.com"), "chat.example.com");
        assert!(p.check(&plain, Scheme::Https).is_err());
        assert!(p.check(&plain, Scheme::Http).is_ok());
    }

    #[test]
    fn configured_list_is_exact() {
        let p = policy(
            &["https://chat.example.com", " https://b.example:8443 "],
            "0.0.0.0:80",
        );
        assert!(
            p.check_any(&headers(Some("https://chat.example.com"), "internal:80"))
                .is_ok()
        );
        assert!(
            p.check_any(&headers(Some("https://b.example:8443"), "internal:80"))
                .is_ok()
        );
        assert!(
            p.check_any(&headers(
                Some("http://chat.example.com"),
                "chat.example.com"
            ))
            .is_err()
        );
        assert!(
            p.check_any(&headers(Some("https://b.example"), "b.example"))
                .is_err()
        );
    }

    #[test]
    fn without_origin_the_fetch_site_decides() {
        let p = policy(&[], "127.0.0.1:3000");
        let with_site = |site: &str| {
            let mut h = headers(None, "127.0.0.1:3000");
            h.insert("sec-fetch-site", HeaderValue::from_str(site).unwrap());
            h
        };
        assert!(p.check_any(&with_site("same-origin")).is_ok());
        assert!(p.check_any(&with_site("none")).is_ok());
        assert!(p.check_any(&with_site("cross-site")).is_err());
        assert!(p.check_any(&with_site("same-site")).is_err());
    }

    #[test]
    fn star_allows_any_and_bad_entries_are_refused() {
        assert!(
            policy(&["*"], "0.0.0.0:80")
                .check_any(&headers(Some("null"), "x"))
                .is_ok()
        );
        assert!(
            OriginPolicy::new(&["chat.example.com".into()], "0.0.0.0:80".parse().unwrap()).is_err()
        );
    }
}
