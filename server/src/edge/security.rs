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
//!
//! Must never import storage or the layer.

use crate::{edge::origin::OriginPolicy, error::ApiError};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

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
    if !safe && let Err(refused) = origins.check(request.headers()) {
        tracing::info!(path = %request.uri().path(), "refused a cross-site request");
        return ApiError::forbidden("origin_not_allowed", refused.0).into_response();
    }
    next.run(request).await
}

/// Adds the headers every answer carries.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
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
