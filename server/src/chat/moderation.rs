//! Moderation: the actions that change what people already see — deleting
//! a message, ending someone's connections, admin actions on rooms and
//! users — each applied to storage and then told to every connected client
//! (through the channel layer, so every server process hears it). Admin
//! actions are also written to the audit log. One function per action;
//! [`perform`] only dispatches and records. Refusals are
//! [`ModerationError`]s; `api/` turns them into HTTP answers. Must never
//! import HTTP types or the consumer (`ws/`).

use super::{
    Chat,
    control::{self, Control},
    groups,
};
use crate::{
    layer::GroupName,
    storage::{Created, StorageError},
};
use app::{
    account::SessionUser,
    admin::{AdminAction, AdminOverview, AdminRoom, AdminUser, AuditLine, audit},
    names::RoomName,
    protocol::{EndCode, ServerEvent},
};
use std::fmt;

/// Why an admin action was refused, or could not be carried out.
#[derive(Debug)]
pub enum ModerationError {
    /// Not a room name we accept; says why.
    InvalidRoom(String),
    UnknownRoom(RoomName),
    /// "Create room" on a room that exists: nothing was changed.
    RoomExists(RoomName),
    /// "Create room" with a name that looks like an existing room's.
    RoomLooksLike(RoomName, RoomName),
    UnknownUser(String),
    /// The room has no such message, or it is deleted already.
    UnknownMessage(RoomName, u64),
    /// An admin may not disable their own account.
    DisableSelf,
    Storage(StorageError),
}

impl From<StorageError> for ModerationError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl fmt::Display for ModerationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRoom(why) => f.write_str(why),
            Self::UnknownRoom(room) => write!(f, "There is no room {room}."),
            Self::RoomExists(room) => write!(
                f,
                "{room} exists already; nothing was changed. Use its admin-only button to change who may enter."
            ),
            Self::RoomLooksLike(room, like) => write!(
                f,
                "{room} looks like the existing room {like}; pick a name that cannot be mistaken for it."
            ),
            Self::UnknownUser(name) => write!(f, "There is no user named {name:?}."),
            Self::UnknownMessage(room, seq) => write!(f, "{room} has no message {seq}."),
            Self::DisableSelf => f.write_str("You cannot disable yourself."),
            Self::Storage(e) => write!(f, "{e}"),
        }
    }
}

/// What an action did, for the audit log: a verb and its target.
type Done = (&'static str, String);

/// Leaves a tombstone for message `seq` and tells the room.
pub async fn delete_message(chat: &Chat, room: &RoomName, seq: u64) -> Result<(), StorageError> {
    chat.storage.delete_message(room, seq).await?;
    let event = ServerEvent::MessageDeleted {
        room: room.clone(),
        seq,
    };
    chat.tell(&groups::room(room), event).await;
    Ok(())
}

/// Closes every connection in the group (a person's inbox, or a room),
/// telling each client why; the clients do not reconnect by themselves.
pub async fn end_connections(chat: &Chat, group: &GroupName, why: EndCode) {
    let event = ServerEvent::session_ended(why);
    chat.tell(group, event).await;
}

fn room_name(raw: &str) -> Result<RoomName, ModerationError> {
    RoomName::parse(raw).map_err(|e| ModerationError::InvalidRoom(e.to_string()))
}

/// Carries out an admin action, tells whoever is affected, and records it.
pub async fn perform(
    chat: &Chat,
    admin: &SessionUser,
    action: AdminAction,
) -> Result<(), ModerationError> {
    let (verb, target) = match action {
        AdminAction::CreateRoom { room, admin_only } => {
            create_room(chat, &room, admin_only).await?
        }
        AdminAction::SetRoomAdminOnly { room, admin_only } => {
            set_room_admin_only(chat, &room, admin_only).await?
        }
        AdminAction::DeleteRoom { room } => delete_room(chat, &room).await?,
        AdminAction::SetAdmin { username, is_admin } => set_admin(chat, username, is_admin).await?,
        AdminAction::DisableUser { username, disabled } => {
            disable_user(chat, admin, username, disabled).await?
        }
        AdminAction::DeleteMessage { room, seq } => admin_delete(chat, &room, seq).await?,
    };
    chat.storage.audit(&admin.username, verb, &target).await?;
    tracing::info!(admin = %admin.username, "{verb} {target}");
    Ok(())
}

async fn create_room(chat: &Chat, room: &str, admin_only: bool) -> Result<Done, ModerationError> {
    let room = room_name(room)?;
    let was_listed = listed_in_public(chat, &room).await?;
    match chat.storage.create_room(&room, admin_only).await? {
        Created::Created => {}
        Created::Exists => return Err(ModerationError::RoomExists(room)),
        Created::LooksLike(like) => return Err(ModerationError::RoomLooksLike(room, like.name)),
    }
    if !admin_only {
        chat.lobby.touch(&room);
        return Ok((audit::CREATED_ROOM, room.to_string()));
    }
    // People may be sitting in the name already (looking never stores a
    // room): they leave, as when a stored room is made admin-only.
    hidden(chat, &room, was_listed).await;
    Ok((audit::CREATED_ADMIN_ONLY_ROOM, room.to_string()))
}

/// The room was just made admin-only: off everyone's lobby but the
/// admins' (`was_listed`: the public list could show it until now), and
/// every connection in it checks again, on every process (admins stay,
/// everyone else's socket ends with `session_ended`).
async fn hidden(chat: &Chat, room: &RoomName, was_listed: bool) {
    match was_listed {
        true => chat.lobby.hide(room),
        false => chat.lobby.touch(room),
    }
    control::signal(chat.layer.as_ref(), &groups::room(room), Control::Recheck).await;
}

/// Whether the public lobby may be showing `room` now: it is not hidden,
/// and has messages or someone signed in is in it.
async fn listed_in_public(chat: &Chat, room: &RoomName) -> Result<bool, StorageError> {
    let record = chat.storage.room(room).await?;
    if record.as_ref().is_some_and(|r| r.admin_only) {
        return Ok(false);
    }
    let record =
        record.unwrap_or_else(|| crate::storage::RoomRecord::unstored(room.clone(), false));
    let line = super::lobby::summarise(chat.presence.as_ref(), vec![record]).await;
    Ok(line.first().is_some_and(super::lobby::listable))
}

async fn set_room_admin_only(
    chat: &Chat,
    room: &str,
    admin_only: bool,
) -> Result<Done, ModerationError> {
    let room = room_name(room)?;
    let was_listed = listed_in_public(chat, &room).await?;
    // A room people are in but nobody has posted in is stored by this.
    match chat.storage.create_room(&room, admin_only).await? {
        Created::Created => {}
        Created::Exists => {
            chat.storage.set_room_admin_only(&room, admin_only).await?;
        }
        Created::LooksLike(like) => return Err(ModerationError::RoomLooksLike(room, like.name)),
    }
    if !admin_only {
        // Shown in everyone's lobby again.
        chat.lobby.touch(&room);
        return Ok((audit::OPENED_ROOM, room.to_string()));
    }
    hidden(chat, &room, was_listed).await;
    Ok((audit::MARKED_ADMIN_ONLY, room.to_string()))
}

async fn delete_room(chat: &Chat, room: &str) -> Result<Done, ModerationError> {
    let room = room_name(room)?;
    let was_hidden = chat
        .storage
        .room(&room)
        .await?
        .is_some_and(|r| r.admin_only);
    if !chat.storage.delete_room(&room).await? {
        return Err(ModerationError::UnknownRoom(room));
    }
    end_connections(chat, &groups::room(&room), EndCode::RoomDeleted).await;
    match was_hidden {
        true => chat.lobby.hidden_gone(&room),
        false => chat.lobby.touch(&room),
    }
    Ok((audit::DELETED_ROOM, room.to_string()))
}

async fn set_admin(chat: &Chat, username: String, is_admin: bool) -> Result<Done, ModerationError> {
    if !chat.storage.set_admin(&username, is_admin).await? {
        return Err(ModerationError::UnknownUser(username));
    }
    // Their open sockets take the new rights now, not at their next
    // connection (and leave admin-only rooms if the rights were taken).
    let inbox = groups::inbox(&username);
    control::signal(chat.layer.as_ref(), &inbox, Control::Recheck).await;
    let verb = if is_admin {
        audit::MADE_ADMIN
    } else {
        audit::REMOVED_ADMIN
    };
    Ok((verb, username))
}

async fn disable_user(
    chat: &Chat,
    admin: &SessionUser,
    username: String,
    disabled: bool,
) -> Result<Done, ModerationError> {
    if username == admin.username && disabled {
        return Err(ModerationError::DisableSelf);
    }
    if !chat.storage.set_disabled(&username, disabled).await? {
        return Err(ModerationError::UnknownUser(username));
    }
    if !disabled {
        return Ok((audit::ENABLED_USER, username));
    }
    end_connections(chat, &groups::inbox(&username), EndCode::AccountDisabled).await;
    Ok((audit::DISABLED_USER, username))
}

async fn admin_delete(chat: &Chat, room: &str, seq: u64) -> Result<Done, ModerationError> {
    let room = room_name(room)?;
    match chat.storage.message_meta(&room, seq).await? {
        Some(meta) if !meta.deleted => {}
        _ => return Err(ModerationError::UnknownMessage(room, seq)),
    }
    delete_message(chat, &room, seq).await?;
    Ok((audit::DELETED_MESSAGE, format!("{room} #{seq}")))
}

/// What the admin page lists.
pub async fn overview(chat: &Chat) -> Result<AdminOverview, StorageError> {
    let storage = &chat.storage;
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
