//! What the admin page shows and what it can do, as both ends see it.
//! The actions are posted (JSON or an HTML form) to `POST /api/admin`; the
//! page's forms work without the WASM.

use crate::protocol::ChatMessage;
use serde::{Deserialize, Serialize};

/// Everything on the admin page (`GET /api/admin` returns the same).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub rooms: Vec<AdminRoom>,
    pub users: Vec<AdminUser>,
    /// Newest first, deleted ones left out.
    pub messages: Vec<ChatMessage>,
    /// Newest first.
    pub audit: Vec<AuditLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoom {
    pub name: String,
    pub admin_only: bool,
    pub last_message_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUser {
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
}

/// The audit log's words, as stored: the server writes them, the admin
/// page translates them (older or unknown ones are shown as stored).
pub mod audit {
    pub const CREATED_ROOM: &str = "created room";
    pub const CREATED_ADMIN_ONLY_ROOM: &str = "created admin-only room";
    pub const OPENED_ROOM: &str = "opened room to everyone";
    pub const MARKED_ADMIN_ONLY: &str = "marked room admin-only";
    pub const DELETED_ROOM: &str = "deleted room";
    pub const MADE_ADMIN: &str = "made admin";
    pub const REMOVED_ADMIN: &str = "removed admin";
    pub const ENABLED_USER: &str = "enabled user";
    pub const DISABLED_USER: &str = "disabled user";
    pub const DELETED_MESSAGE: &str = "deleted message";
    /// The actor of what `server create-admin` did.
    pub const COMMAND_LINE: &str = "(command line)";
}

/// One recorded admin action: who did what to what, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

/// The actions, as JSON: `{"action":"disable_user","username":"bob","disabled":true}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AdminAction {
    CreateRoom { room: String, admin_only: bool },
    SetRoomAdminOnly { room: String, admin_only: bool },
    DeleteRoom { room: String },
    SetAdmin { username: String, is_admin: bool },
    DisableUser { username: String, disabled: bool },
    DeleteMessage { room: String, seq: u64 },
}

/// The same actions as an HTML form posts them: every field a string.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AdminForm {
    pub action: String,
    #[serde(default)]
    pub room: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub seq: String,
    /// "true"/"false" (or "1"/"0", "on" from a checkbox) for the flag the action sets.
    #[serde(default)]
    pub value: String,
}

impl AdminForm {
    pub fn into_action(self) -> Result<AdminAction, String> {
        let flag = matches!(self.value.as_str(), "true" | "1" | "on" | "yes");
        Ok(match self.action.as_str() {
            "create_room" => AdminAction::CreateRoom {
                room: self.room,
                admin_only: flag,
            },
            "set_room_admin_only" => AdminAction::SetRoomAdminOnly {
                room: self.room,
                admin_only: flag,
            },
            "delete_room" => AdminAction::DeleteRoom { room: self.room },
            "set_admin" => AdminAction::SetAdmin {
                username: self.username,
                is_admin: flag,
            },
            "disable_user" => AdminAction::DisableUser {
                username: self.username,
                disabled: flag,
            },
            "delete_message" => AdminAction::DeleteMessage {
                room: self.room,
                seq: self
                    .seq
                    .parse()
                    .map_err(|_| "seq must be a whole number.".to_owned())?,
            },
            other => return Err(format!("Unknown admin action {other:?}.")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_json_name_the_same_actions() {
        let form = AdminForm {
            action: "disable_user".into(),
            username: "bob".into(),
            value: "true".into(),
            ..AdminForm::default()
        };
        let action = form.into_action().unwrap();
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"action":"disable_user","username":"bob","disabled":true})
        );
        let bad = AdminForm {
            action: "delete_message".into(),
            seq: "x".into(),
            ..AdminForm::default()
        };
        assert!(bad.into_action().is_err());
    }
}
