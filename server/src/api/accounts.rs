//! `/api/register`, `/api/login`, `/api/logout`, `/api/me`.

use super::Submitted;
use crate::{
    auth::{self, AccountError, Guards},
    chat::Chat,
    edge::proxy::ClientAddr,
    error::ApiError,
    storage::Storage,
};
use app::{
    account::{AuthError, safe_next},
    names::percent_encode,
};
use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use std::sync::Arc;
use tower_sessions::Session;

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// Forms only: where to go afterwards.
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

fn status_of(e: AuthError) -> StatusCode {
    match e {
        AuthError::InvalidUsername | AuthError::WeakPassword | AuthError::InvalidRequest => {
            StatusCode::BAD_REQUEST
        }
        AuthError::UsernameTaken => StatusCode::CONFLICT,
        AuthError::InvalidCredentials | AuthError::NotAuthenticated => StatusCode::UNAUTHORIZED,
        AuthError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        AuthError::AccountDisabled => StatusCode::FORBIDDEN,
        AuthError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        AuthError::Busy => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::new(status_of(e), e.code(), e.message())
    }
}

/// Answers an account request: JSON for API clients; for a form post, a
/// redirect onwards, or back to the form (`page`) with the refusal's code.
fn answer(result: Result<Response, AccountError>, form: Option<(&str, &Credentials)>) -> Response {
    match (result, form) {
        (Err(AccountError::Throttled(e, wait)), None) => ApiError {
            retry_after: Some(wait),
            ..e.into()
        }
        .into_response(),
        (Err(AccountError::Throttled(e, _)), form) => answer(Err(AccountError::Refused(e)), form),
        (Ok(_), Some((_, creds))) => {
            Redirect::to(&safe_next(creds.next.as_deref())).into_response()
        }
        (Ok(json), None) => json,
        (Err(AccountError::Refused(e)), Some((page, creds))) => {
            let mut to = format!(
                "{page}?error={}&username={}",
                e.code(),
                percent_encode(&creds.username)
            );
            if let Some(next) = &creds.next {
                to.push_str(&format!("&next={}", percent_encode(&safe_next(Some(next)))));
            }
            Redirect::to(&to).into_response()
        }
        (Err(AccountError::Refused(e)), None) => ApiError::from(e).into_response(),
        (Err(AccountError::Internal(e)), _) => {
            tracing::error!("account request failed: {e}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side; try again.",
            )
            .into_response()
        }
    }
}

pub async fn register(
    State(storage): State<Storage>,
    State(guards): State<Arc<Guards>>,
    ClientAddr(client): ClientAddr,
    session: Session,
    body: Submitted<Credentials>,
) -> Response {
    let creds = &body.value;
    let result = auth::register(
        &storage,
        &guards,
        &session,
        client,
        &creds.username,
        &creds.password,
    )
    .await
    .map(|user| {
        (
            StatusCode::CREATED,
            Json(serde_json::json!({ "username": user.username })),
        )
            .into_response()
    });
    answer(result, body.from_form.then_some(("/register", creds)))
}

pub async fn login(
    State(storage): State<Storage>,
    State(guards): State<Arc<Guards>>,
    ClientAddr(client): ClientAddr,
    session: Session,
    body: Submitted<Credentials>,
) -> Response {
    let creds = &body.value;
    let result = auth::login(
        &storage,
        &guards,
        &session,
        client,
        &creds.username,
        &creds.password,
    )
    .await
    .map(|user| Json(serde_json::json!({ "username": user.username })).into_response());
    answer(result, body.from_form.then_some(("/login", creds)))
}

/// Signs out, ending the session's sockets. A form post (the header's button) is redirected to `?next=`
/// or the lobby; API clients get 204.
pub async fn logout(
    State(chat): State<Chat>,
    session: Session,
    Query(next): Query<Next>,
    headers: HeaderMap,
) -> Response {
    match auth::logout(&session).await {
        Ok(Some(ended)) => chat.logged_out(ended).await,
        Ok(None) => {}
        Err(e) => tracing::error!("logout failed: {e:?}"),
    }
    if super::is_form(&headers) {
        Redirect::to(&safe_next(next.next.as_deref())).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// The signed-in person as the database has them now (a disabled
/// account's session has ended: 401).
pub async fn me(
    State(storage): State<Storage>,
    session: Session,
) -> Result<Json<app::account::Me>, ApiError> {
    auth::current_account(&storage, &session)
        .await?
        .map(|u| Json(u.me()))
        .ok_or_else(|| AuthError::NotAuthenticated.into())
}
