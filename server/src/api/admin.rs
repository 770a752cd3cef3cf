//! `GET /api/admin` (what the admin page lists) and `POST /api/admin` (an
//! action, as JSON or as the admin page's HTML form, which is answered with
//! a redirect back to the page). Admins only.

use super::{is_form, read_body};
use crate::{AppState, auth, error::ApiError, moderation};
use app::admin::{AdminForm, AdminOverview};
use axum::{
    Json,
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

pub async fn overview(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<AdminOverview>, ApiError> {
    let user = auth::current_account(&state, &session).await?;
    moderation::require_admin(user.as_ref())?;
    moderation::overview(&state).await.map(Json).map_err(|e| {
        tracing::error!("admin overview: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Try again in a moment.",
        )
    })
}

pub async fn act(State(state): State<AppState>, session: Session, request: Request) -> Response {
    let from_form = is_form(request.headers());
    let action = read_body(request, &state, AdminForm::into_action).await;
    let result = async {
        // Who is asking comes first: a non-admin learns nothing about the body.
        let user = auth::current_account(&state, &session).await?;
        let admin = moderation::require_admin(user.as_ref())?;
        moderation::perform(&state, admin, action?.value).await
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
