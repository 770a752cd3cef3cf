//! `GET /api/admin` (what the admin page lists) and `POST /api/admin` (an
//! action, as JSON or as the admin page's HTML form, which is answered with
//! a redirect back to the page). Admins only.

use super::{is_form, read_body};
use crate::{
    auth,
    chat::{
        Chat,
        moderation::{self, ModerationError},
    },
    error::ApiError,
};
use app::admin::{AdminForm, AdminOverview};
use axum::{
    Json,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

pub async fn overview(
    State(chat): State<Chat>,
    session: Session,
) -> Result<Json<AdminOverview>, ApiError> {
    let user = auth::current_account(&chat.storage, &session).await?;
    auth::require_admin(user.as_ref())?;
    Ok(Json(moderation::overview(&chat).await?))
}

impl From<ModerationError> for ApiError {
    fn from(e: ModerationError) -> Self {
        let message = e.to_string();
        match e {
            ModerationError::InvalidRoom(_) => ApiError::bad_request("invalid_room", message),
            ModerationError::DisableSelf => ApiError::invalid_request(message),
            ModerationError::UnknownRoom(_) => ApiError::not_found("unknown_room", message),
            ModerationError::RoomExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "room_exists", message)
            }
            ModerationError::RoomLooksLike(..) => {
                ApiError::new(StatusCode::CONFLICT, "room_name_taken", message)
            }
            ModerationError::UnknownUser(_) => ApiError::not_found("unknown_user", message),
            ModerationError::UnknownMessage(..) => ApiError::not_found("unknown_message", message),
            ModerationError::Storage(e) => e.into(),
        }
    }
}

pub async fn act(State(chat): State<Chat>, session: Session, request: Request) -> Response {
    let from_form = is_form(request.headers());
    let action = read_body(request, &chat, AdminForm::into_action).await;
    let result = async {
        // Who is asking comes first: a non-admin learns nothing about the body.
        let user = auth::current_account(&chat.storage, &session).await?;
        let admin = auth::require_admin(user.as_ref())?;
        Ok::<_, ApiError>(moderation::perform(&chat, admin, action?.value).await?)
    }
    .await;
    match (result, from_form) {
        (Ok(()), true) => Redirect::to("/admin").into_response(),
        (Ok(()), false) => StatusCode::NO_CONTENT.into_response(),
        // The page shows the refusal above its lists.
        (Err(e), true) => Redirect::to(&format!(
            "/admin?error={}",
            app::names::percent_encode(&e.message)
        ))
        .into_response(),
        (Err(e), false) => e.into_response(),
    }
}
