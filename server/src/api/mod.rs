//! The JSON HTTP API under `/api/` (the contract in docs/protocol.md): accounts
//! and rooms. Errors are `{"error":{"code","message"}}` with a fitting status.
//!
//! The account endpoints also take ordinary HTML form posts, so the log-in
//! and register pages work before (or without) the WASM: a form post is
//! answered with a redirect instead of JSON.

mod accounts;
mod admin;
mod rooms;

use crate::{
    AppState,
    chat::{access::Refused, direct::DirectRefused},
    error::ApiError,
};
use axum::{
    Form, Json, Router,
    extract::{FromRequest, Request},
    http::{HeaderMap, header},
    routing::{get, post},
};
use serde::de::DeserializeOwned;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/register", post(accounts::register))
        .route("/api/login", post(accounts::login))
        .route("/api/logout", post(accounts::logout))
        .route("/api/me", get(accounts::me))
        .route("/api/rooms", get(rooms::list))
        .route("/api/rooms/live", get(rooms::live))
        .route("/api/rooms/{room}/messages", get(rooms::messages))
        .route("/api/admin", get(admin::overview).post(admin::act))
}

/// Who may not open a room, as the upgrade and the history API answer it.
impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::AdminsOnly(room) => {
                ApiError::forbidden("admin_only", format!("{room} is for admins only."))
            }
            Refused::LooksLike { room, like } => ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "room_name_taken",
                format!("{room} looks like the room {like}; join that one."),
            ),
        }
    }
}

/// Why a direct conversation cannot be opened, as its upgrade answers it.
impl From<DirectRefused> for ApiError {
    fn from(refused: DirectRefused) -> Self {
        match refused {
            DirectRefused::NoSuchUser(name) => {
                ApiError::not_found("unknown_user", format!("There is no user named {name:?}."))
            }
            DirectRefused::Yourself => ApiError::bad_request(
                "invalid_user",
                "A direct conversation is with someone else.",
            ),
            DirectRefused::Storage(e) => ApiError::from(e),
        }
    }
}

/// A request body sent either as JSON (scripts, bots) or as an HTML form.
pub struct Submitted<T> {
    pub value: T,
    pub from_form: bool,
}

/// Whether the request is an HTML form post.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Submitted<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_body::<T, T, S>(req, state, Ok).await
    }
}

/// Reads a JSON body as `T`, or an HTML form as `F` turned into `T` by
/// `from_form` (for when a form cannot carry `T`'s types, such as booleans).
pub async fn read_body<T: DeserializeOwned, F: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
    from_form: impl FnOnce(F) -> Result<T, String>,
) -> Result<Submitted<T>, ApiError> {
    if is_form(req.headers()) {
        let Form(form) = Form::<F>::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid_request(e.body_text()))?;
        Ok(Submitted {
            value: from_form(form).map_err(ApiError::invalid_request)?,
            from_form: true,
        })
    } else {
        let Json(value) = Json::<T>::from_request(req, state)
            .await
            .map_err(|e| ApiError::invalid_request(e.body_text()))?;
        Ok(Submitted {
            value,
            from_form: false,
        })
    }
}
