//! Moderation: the actions that change what people already see — deleting
//! a message, ending someone's connections, admin actions on rooms and
//! users — each applied to storage and then told to every connected client
//! (through the channel layer, so every server process hears it). Admin
//! actions are also written to the audit log.

use crate::{
    AppState,
    error::ApiError,
    layer::{GroupName, Payload},
    storage::StorageError,
};
use app::{
    account::SessionUser,
    admin::{AdminAction, AdminOverview, AdminRoom, AdminUser, AuditLine},
    names::RoomName,
    protocol::ServerEvent,
};
use axum::http::StatusCode;

/// Leaves a tombstone for message `seq` and tells the room.
pub async fn delete_message(
    state: &AppState,
    room: &RoomName,
    seq: u64,
) -> Result<(), StorageError> {
    state.storage.delete_message(room, seq).await?;
    send(
        state,
        &GroupName::room(room),
        ServerEvent::MessageDeleted {
            room: room.clone(),
            seq,
        },
    )
    .await;
    Ok(())
}

/// Closes every connection in the group (a person's inbox, or a room),
/// telling each client why; the clients do not reconnect by themselves.
pub async fn end_connections(state: &AppState, group: &GroupName, reason: &str) {
    send(
        state,
        group,
        ServerEvent::SessionEnded {
            reason: reason.to_owned(),
        },
    )
    .await;
}

async fn send(state: &AppState, group: &GroupName, event: ServerEvent) {
    if let Err(e) = state
        .layer
        .group_send(group, Payload::event(event.to_json()))
        .await
    {
        tracing::warn!("telling {group}: {e}");
    }
}

fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message)
}

fn unavailable(e: StorageError) -> ApiError {
    tracing::error!("admin action: {e}");
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Try again in a moment.",
    )
}

fn room_name(raw: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(raw)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, "invalid_room", e.to_string()))
}

/// Only admins get past this (403 `forbidden` otherwise).
pub fn require_admin(user: Option<&SessionUser>) -> Result<&SessionUser, ApiError> {
    match user {
        Some(user) if user.is_admin => Ok(user),
        Some(_) => Err(refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only admins can do that.",
        )),
        None => Err(refused(
            StatusCode::UNAUTHORIZED,
            "not_authenticated",
            "Log in first.",
        )),
    }
}

/// Carries out an admin action, tells whoever is affected, and records it.
pub async fn perform(
    state: &AppState,
    admin: &SessionUser,
    action: AdminAction,
) -> Result<(), ApiError> {
    let storage = &state.storage;
    let no_user = |name: &str| {
        refused(
            StatusCode::NOT_FOUND,
            "unknown_user",
            format!("There is no user named {name:?}."),
        )
    };
    let (verb, target) = match &action {
        AdminAction::CreateRoom { room, admin_only } => {
            let room = room_name(room)?;
            storage
                .create_room(&room, *admin_only)
                .await
                .map_err(unavailable)?;
            let verb = if *admin_only {
                "created admin-only room"
            } else {
                "created room"
            };
            (verb, room.to_string())
        }
        AdminAction::SetRoomAdminOnly { room, admin_only } => {
            let room = room_name(room)?;
            storage
                .create_room(&room, *admin_only)
                .await
                .map_err(unavailable)?;
            if *admin_only {
                // Everyone in it reconnects; non-admins are then refused.
                end_connections(
                    state,
                    &GroupName::room(&room),
                    "This room is now for admins only.",
                )
                .await;
                ("marked room admin-only", room.to_string())
            } else {
                ("opened room to everyone", room.to_string())
            }
        }
        AdminAction::DeleteRoom { room } => {
            let room = room_name(room)?;
            if !storage.delete_room(&room).await.map_err(unavailable)? {
                return Err(refused(
                    StatusCode::NOT_FOUND,
                    "unknown_room",
                    format!("There is no room {room}."),
                ));
            }
            end_connections(state, &GroupName::room(&room), "This room was deleted.").await;
            ("deleted room", room.to_string())
        }
        AdminAction::SetAdmin { username, is_admin } => {
            if !storage
                .set_admin(username, *is_admin)
                .await
                .map_err(unavailable)?
            {
                return Err(no_user(username));
            }
            (
                if *is_admin {
                    "made admin"
                } else {
                    "removed admin"
                },
                username.clone(),
            )
        }
        AdminAction::DisableUser { username, disabled } => {
            if username == &admin.username && *disabled {
                return Err(refused(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "You cannot disable yourself.",
                ));
            }
            if !storage
                .set_disabled(username, *disabled)
                .await
                .map_err(unavailable)?
            {
                return Err(no_user(username));
            }
            if *disabled {
                end_connections(
                    state,
                    &GroupName::inbox(username),
                    "Your account has been disabled by an admin.",
                )
                .await;
            }
            (
                if *disabled {
                    "disabled user"
                } else {
                    "enabled user"
                },
                username.clone(),
            )
        }
        AdminAction::DeleteMessage { room, seq } => {
            let room = room_name(room)?;
            match storage
                .message_meta(&room, *seq)
                .await
                .map_err(unavailable)?
            {
                Some(meta) if !meta.deleted => {}
                _ => {
                    return Err(refused(
                        StatusCode::NOT_FOUND,
                        "unknown_message",
                        format!("{room} has no message {seq}."),
                    ));
                }
            }
            delete_message(state, &room, *seq)
                .await
                .map_err(unavailable)?;
            ("deleted message", format!("{room} #{seq}"))
        }
    };
    storage
        .audit(&admin.username, verb, &target)
        .await
        .map_err(unavailable)?;
    tracing::info!(admin = %admin.username, "{verb} {target}");
    Ok(())
}

/// What the admin page lists.
pub async fn overview(state: &AppState) -> Result<AdminOverview, StorageError> {
    let storage = &state.storage;
    Ok(AdminOverview {
        rooms: storage
            .rooms()
            .await?
            .into_iter()
            .map(|r| AdminRoom {
                name: r.name.to_string(),
                admin_only: r.admin_only,
                last_message_at: r.last_message_at,
            })
            .collect(),
        users: storage
            .users()
            .await?
            .into_iter()
            .map(|u| AdminUser {
                username: u.username,
                is_admin: u.is_admin,
                disabled: u.disabled,
            })
            .collect(),
        messages: storage.recent_messages(50).await?,
        audit: storage
            .audit_log(50)
            .await?
            .into_iter()
            .map(|a| AuditLine {
                at: a.at,
                actor: a.actor,
                action: a.action,
                target: a.target,
            })
            .collect(),
    })
}
