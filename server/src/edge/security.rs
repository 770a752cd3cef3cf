//! What every HTTP answer carries and what every state-changing request
//! must pass, as two middlewares on the whole router:
//!
//! - [`refuse_cross_site`]: a POST (or PUT, PATCH, DELETE) whose `Origin`,
//!   or failing that `Sec-Fetch-Site`, says it comes from another site is
//!   refused with 403 `origin_not_allowed` before any handler runs: login,
//!   register, logout, admin actions and the pages' server functions alike
//!   (the same rule as the WebSocket upgrade, [`crate::edge::origin`]).
//! - [`security_headers`]: `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: same-origin`, `X-Frame-Options: DENY`, and a
//!   `Content-Security-Policy` on every answer that has none of its own.
//!   Pages set their own (with the nonce of their inline hydration
//!   scripts: `app::page_csp`); everything else gets the strictest one.
//!   When a trusted proxy says the visitor came over https
//!   ([`Scheme::Https`]): `Strict-Transport-Security` too, and every
//!   cookie set is marked `Secure`.
//!
//! Must never import storage or the layer.

use crate::{
    edge::{origin::OriginPolicy, proxy::Scheme},
    error::ApiError,
};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// HSTS once a visitor came over https: a year, as browsers' preload
/// lists expect; subdomains are the operator's to add at the proxy.
const HSTS: &str = "max-age=31536000";

/// For answers that are not pages (JSON, files): nothing may run or frame them.
const NOT_A_PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Refuses state-changing requests from other sites' pages.
pub async fn refuse_cross_site(
    State(origins): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let scheme = request
        .extensions()
        .get::<Scheme>()
        .copied()
        .unwrap_or_default();
    if !safe && let Err(refused) = origins.check(request.headers(), scheme) {
        tracing::info!(path = %request.uri().path(), "refused a cross-site request");
        return ApiError::forbidden("origin_not_allowed", refused.0).into_response();
    }
    next.run(request).await
}

/// Adds the headers every answer carries.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let https = request.extensions().get::<Scheme>() == Some(&Scheme::Https);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
        secure_cookies(headers);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NOT_A_PAGE_CSP),
        );
    }
    response
}

/// Marks every cookie being set `Secure`: the visitor is on https, so the
/// cookie must never travel over plain HTTP (`SECURE_COOKIES` does the
/// same for the session cookie whatever the proxy says).
fn secure_cookies(headers: &mut axum::http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| {
            let text = value.to_str().unwrap_or("");
            let marked = text
                .split(';')
                .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
            match marked {
                true => value.clone(),
                false => HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(value.clone()),
            }
        })
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
}
