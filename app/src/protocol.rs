//! The WebSocket protocol, defined once and used by both ends: what the
//! server sends ([`ServerEvent`]) and what a client may send ([`ClientFrame`]).
//!
//! The shapes are the contract in DESIGN.md: the tutorials' `{"message": …}`
//! works unchanged, and every event carries a `type`.

use crate::names::{RoomName, Username};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest chat message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 4_000;
/// Largest WebSocket frame or message the server reads; bigger ones close the
/// socket with 1009 (message too big).
pub const FRAME_MAX_BYTES: usize = 64 * 1024;
/// Messages in one `history` page unless the client asks for fewer.
pub const HISTORY_PAGE: u32 = 50;
/// Most messages one `history` request may ask for.
pub const HISTORY_MAX: u32 = 200;

/// Everything the server sends to a client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    ChatMessage(ChatMessage),
    /// A page of the room's log, oldest first. Sent on joining (the latest
    /// page) and in answer to a `history` frame.
    History(History),
    /// The signed-in people in the room, sent on connecting.
    UserList {
        users: Vec<String>,
    },
    /// A person's first connection to the room opened.
    UserJoin {
        user: String,
    },
    /// A person's last connection to the room closed.
    UserLeave {
        user: String,
    },
    /// A private message to this person, from `user`.
    PrivateMessage {
        user: String,
        message: String,
    },
    /// Receipt for the sender: the private message reached `target`.
    PrivateMessageDelivered {
        target: String,
        message: String,
    },
    /// `user` is typing in the room (sent at most every 2 s while they type).
    Typing {
        user: String,
    },
    /// The author changed message `seq`.
    MessageEdited {
        room: RoomName,
        seq: u64,
        message: String,
        edited_at: String,
    },
    /// Message `seq` was deleted (by its author or an admin); it stays in
    /// the log as a tombstone so seqs remain contiguous.
    MessageDeleted {
        room: RoomName,
        seq: u64,
    },
    /// Who now reacts to message `seq` with `emoji` (empty: nobody).
    Reaction {
        room: RoomName,
        seq: u64,
        emoji: String,
        users: Vec<String>,
    },
    /// This connection is being closed by the server (the account was
    /// disabled); the socket closes right after.
    SessionEnded {
        reason: String,
    },
    Error(ErrorEvent),
}

/// How long after posting its author may edit or delete a message.
pub const EDIT_WINDOW_SECS: i64 = 10 * 60;

/// One emoji on a message and who reacted with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<String>,
}

/// A page of stored messages, oldest first. `has_more`: there are older
/// ones (or, for `after_seq` queries, newer ones) beyond this page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub messages: Vec<ChatMessage>,
    pub has_more: bool,
}

/// One stored chat message as everyone in the room sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: RoomName,
    /// Position in the room's log: 1, 2, 3 … with no gaps.
    pub seq: u64,
    pub id: String,
    pub user: String,
    pub message: String,
    /// RFC 3339 UTC time at which the server accepted the message.
    pub ts: String,
    /// When the author last edited it, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// Deleted: `message` is then empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
}

/// A refusal addressed to one connection; the connection stays open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Stable, machine-readable.
    pub code: ErrorCode,
    /// For people: says what was wrong and what to do instead.
    pub message: String,
    /// With `rate_limited`: when the next attempt will be accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// The error codes the server uses, so neither side spells them by hand.
/// On the wire each is its name in snake_case (`rate_limited`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidJson,
    InvalidFrame,
    InvalidMessage,
    EmptyMessage,
    MessageTooLong,
    UnknownType,
    BinaryNotSupported,
    /// The server could not do it right now (a backend is down); try again.
    Unavailable,
    /// Anonymous visitors may read but not post.
    NotAuthenticated,
    /// A `/command` used wrongly (e.g. `/pm` without a name).
    InvalidCommand,
    /// `/pm` to a name nobody has.
    UnknownUser,
    /// `/pm` to someone with no connection open.
    UserOffline,
    /// Edit, delete or react to a seq the room does not have (or a deleted message).
    UnknownMessage,
    /// Editing or deleting someone else's message, or after the edit window.
    Forbidden,
    /// Not a single emoji.
    InvalidEmoji,
    /// Too many messages, edits or reactions too fast; see `retry_after_ms`.
    RateLimited,
    /// A code this build does not know (sent by a newer server): read the
    /// message.
    #[serde(other)]
    Other,
}

impl ServerEvent {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error(ErrorEvent {
            code,
            message: message.into(),
            retry_after_ms: None,
        })
    }

    /// `rate_limited`, saying when to try again.
    pub fn rate_limited(what: &str, retry_after_ms: u64) -> Self {
        let secs = (retry_after_ms as f64 / 1000.0).max(0.1);
        Self::Error(ErrorEvent {
            code: ErrorCode::RateLimited,
            message: format!("Slow down: too many {what}. Try again in {secs:.1} s."),
            retry_after_ms: Some(retry_after_ms),
        })
    }

    pub fn to_json(&self) -> String {
        // Serializing these plain structs cannot fail.
        serde_json::to_string(self).expect("server events serialize")
    }
}

/// The text of a chat message: not blank, at most [`MESSAGE_MAX_CHARS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, FrameError> {
        if raw.trim().is_empty() {
            return Err(FrameError::new(
                ErrorCode::EmptyMessage,
                "Type something before sending.",
            ));
        }
        let chars = raw.chars().count();
        if chars > MESSAGE_MAX_CHARS {
            return Err(FrameError::new(
                ErrorCode::MessageTooLong,
                format!(
                    "Messages are at most {MESSAGE_MAX_CHARS} characters; this one has {chars}."
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Everything a client may send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"message": "hi"}` (the tutorials' frame; `"type"` may be omitted).
    Chat(MessageText),
    /// `{"type":"history","before_seq":40,"limit":50}`: older messages.
    /// Without `before_seq`, the latest page.
    History { before_seq: Option<u64>, limit: u32 },
    /// `{"message": "/pm bob psst"}`: to every connection of `to`, nobody else.
    PrivateMessage { to: Username, text: MessageText },
    /// `{"type":"typing"}`.
    Typing,
    /// `{"type":"edit","seq":42,"message":"hi, fixed"}`: own message, within 10 minutes.
    Edit { seq: u64, text: MessageText },
    /// `{"type":"delete","seq":42}`: own message within 10 minutes, or any as an admin.
    Delete { seq: u64 },
    /// `{"type":"react","seq":42,"emoji":"👍"}`: toggles this person's reaction.
    React { seq: u64, emoji: Emoji },
}

/// One emoji (or a short emoji sequence): 1–8 characters, none of them
/// whitespace, ASCII letters or digits — so reactions stay pictures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, FrameError> {
        let chars = raw.chars().count();
        let pictorial = raw
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_ascii_alphanumeric() && !c.is_control());
        if (1..=8).contains(&chars) && pictorial {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FrameError::new(
                ErrorCode::InvalidEmoji,
                "React with one emoji, such as 👍.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What follows `/pm `, split into the name and the text.
fn parse_pm(rest: &str) -> Result<ClientFrame, FrameError> {
    let rest = rest.trim_start();
    let (name, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if name.is_empty() {
        return Err(FrameError::new(
            ErrorCode::InvalidCommand,
            "Usage: /pm <user> <message>",
        ));
    }
    let to = Username::parse(name).map_err(|_| {
        FrameError::new(
            ErrorCode::UnknownUser,
            format!("There is no user named {name:?}."),
        )
    })?;
    let text = MessageText::parse(text).map_err(|e| match e.code {
        ErrorCode::EmptyMessage => FrameError::new(
            ErrorCode::EmptyMessage,
            format!("Write a message after the name: /pm {name} <message>"),
        ),
        _ => e,
    })?;
    Ok(ClientFrame::PrivateMessage { to, text })
}

/// Why a client frame was refused; becomes an `error` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
}

impl FrameError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<FrameError> for ServerEvent {
    fn from(e: FrameError) -> Self {
        ServerEvent::error(e.code, e.message)
    }
}

impl ClientFrame {
    /// Parses one text frame. Every refusal names what was wrong.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            FrameError::new(ErrorCode::InvalidJson, format!("Not valid JSON: {e}."))
        })?;
        let Value::Object(mut fields) = value else {
            return Err(FrameError::new(
                ErrorCode::InvalidFrame,
                r#"Send a JSON object, such as {"message": "hi"}."#,
            ));
        };
        let kind = match fields.get("type") {
            None => "chat_message",
            Some(Value::String(t)) => t.as_str(),
            Some(_) => {
                return Err(FrameError::new(
                    ErrorCode::UnknownType,
                    r#""type" must be a string."#,
                ));
            }
        };
        match kind {
            "chat_message" => match fields.remove("message") {
                Some(Value::String(text)) => match text.strip_prefix("/pm") {
                    Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                        parse_pm(rest)
                    }
                    _ => Ok(Self::Chat(MessageText::parse(&text)?)),
                },
                Some(_) => Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    r#""message" must be a string."#,
                )),
                None => Err(FrameError::new(
                    ErrorCode::InvalidMessage,
                    r#"A chat frame needs a "message" string."#,
                )),
            },
            "history" => {
                let before_seq = optional_count(&fields, "before_seq", u64::MAX)?;
                let limit = optional_count(&fields, "limit", HISTORY_MAX as u64)?
                    .map_or(HISTORY_PAGE, |n| n as u32);
                Ok(Self::History { before_seq, limit })
            }
            "typing" => Ok(Self::Typing),
            "edit" => {
                let seq = required_seq(&fields)?;
                match fields.get("message") {
                    Some(Value::String(text)) => Ok(Self::Edit {
                        seq,
                        text: MessageText::parse(text)?,
                    }),
                    _ => Err(FrameError::new(
                        ErrorCode::InvalidMessage,
                        r#"An edit needs the new "message" string."#,
                    )),
                }
            }
            "delete" => Ok(Self::Delete {
                seq: required_seq(&fields)?,
            }),
            "react" => {
                let seq = required_seq(&fields)?;
                match fields.get("emoji") {
                    Some(Value::String(emoji)) => Ok(Self::React {
                        seq,
                        emoji: Emoji::parse(emoji)?,
                    }),
                    _ => Err(FrameError::new(
                        ErrorCode::InvalidEmoji,
                        r#"A reaction needs an "emoji" string, such as "👍"."#,
                    )),
                }
            }
            other => Err(FrameError::new(
                ErrorCode::UnknownType,
                format!("Unknown frame type {other:?}."),
            )),
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            Self::Chat(text) => serde_json::json!({ "message": text.as_str() }).to_string(),
            Self::History { before_seq, limit } => {
                serde_json::json!({ "type": "history", "before_seq": before_seq, "limit": limit })
                    .to_string()
            }
            Self::PrivateMessage { to, text } => {
                serde_json::json!({ "message": format!("/pm {to} {}", text.as_str()) }).to_string()
            }
            Self::Typing => r#"{"type":"typing"}"#.to_owned(),
            Self::Edit { seq, text } => {
                serde_json::json!({ "type": "edit", "seq": seq, "message": text.as_str() })
                    .to_string()
            }
            Self::Delete { seq } => serde_json::json!({ "type": "delete", "seq": seq }).to_string(),
            Self::React { seq, emoji } => {
                serde_json::json!({ "type": "react", "seq": seq, "emoji": emoji.as_str() })
                    .to_string()
            }
        }
    }
}

/// The `seq` an edit, delete or reaction is about.
fn required_seq(fields: &serde_json::Map<String, Value>) -> Result<u64, FrameError> {
    optional_count(fields, "seq", u64::MAX)?.ok_or_else(|| {
        FrameError::new(
            ErrorCode::InvalidFrame,
            r#"Say which message: "seq" is missing."#,
        )
    })
}

/// An optional field holding a whole number from 1 to `max`.
fn optional_count(
    fields: &serde_json::Map<String, Value>,
    name: &str,
    max: u64,
) -> Result<Option<u64>, FrameError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(FrameError::new(
                ErrorCode::InvalidFrame,
                format!("{name:?} must be a whole number from 1 to {max}."),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> ErrorCode {
        ClientFrame::parse(text).unwrap_err().code
    }

    #[test]
    fn tutorial_frame_parses() {
        let frame = ClientFrame::parse(r#"{"message":"hi"}"#).unwrap();
        assert_eq!(frame, ClientFrame::Chat(MessageText::parse("hi").unwrap()));
        assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
    }

    #[test]
    fn bad_frames_get_specific_codes() {
        assert_eq!(code("{nope"), ErrorCode::InvalidJson);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidFrame);
        assert_eq!(code(r#"{"message":5}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"text":"hi"}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"message":"  \n"}"#), ErrorCode::EmptyMessage);
        assert_eq!(
            code(r#"{"type":"dance","message":"hi"}"#),
            ErrorCode::UnknownType
        );
        assert_eq!(code(r#"{"type":7}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"history","before_seq":0}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"history","limit":500}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"history","limit":"5"}"#),
            ErrorCode::InvalidFrame
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(MESSAGE_MAX_CHARS + 1));
        assert_eq!(code(&long), ErrorCode::MessageTooLong);
    }

    #[test]
    fn edit_delete_react_frames_parse_and_round_trip() {
        let edit = ClientFrame::parse(r#"{"type":"edit","seq":42,"message":"hi, fixed"}"#).unwrap();
        assert_eq!(
            edit,
            ClientFrame::Edit {
                seq: 42,
                text: MessageText::parse("hi, fixed").unwrap()
            }
        );
        let delete = ClientFrame::parse(r#"{"type":"delete","seq":3}"#).unwrap();
        let react = ClientFrame::parse(r#"{"type":"react","seq":3,"emoji":"👍"}"#).unwrap();
        for frame in [edit, delete, react] {
            assert_eq!(ClientFrame::parse(&frame.to_json()).unwrap(), frame);
        }
        assert_eq!(
            code(r#"{"type":"edit","message":"x"}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"edit","seq":1}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(r#"{"type":"edit","seq":1,"message":" "}"#),
            ErrorCode::EmptyMessage
        );
        assert_eq!(
            code(r#"{"type":"delete","seq":0}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"react","seq":1,"emoji":"ok"}"#),
            ErrorCode::InvalidEmoji
        );
        assert_eq!(
            code(r#"{"type":"react","seq":1,"emoji":""}"#),
            ErrorCode::InvalidEmoji
        );
        assert_eq!(code(r#"{"type":"react","seq":1}"#), ErrorCode::InvalidEmoji);
        assert!(Emoji::parse("👍🏽").is_ok());
        assert!(Emoji::parse("❤️").is_ok());
    }

    #[test]
    fn history_frames_parse_with_defaults() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"history","before_seq":40,"limit":10}"#).unwrap(),
            ClientFrame::History {
                before_seq: Some(40),
                limit: 10
            }
        );
        let latest = ClientFrame::parse(r#"{"type":"history"}"#).unwrap();
        assert_eq!(
            latest,
            ClientFrame::History {
                before_seq: None,
                limit: HISTORY_PAGE
            }
        );
        assert_eq!(ClientFrame::parse(&latest.to_json()).unwrap(), latest);
    }

    #[test]
    fn pm_commands_parse_and_explain_mistakes() {
        assert_eq!(
            ClientFrame::parse(r#"{"message":"/pm bob  psst, hi"}"#).unwrap(),
            ClientFrame::PrivateMessage {
                to: Username::parse("bob").unwrap(),
                text: MessageText::parse(" psst, hi").unwrap()
            }
        );
        assert_eq!(code(r#"{"message":"/pm"}"#), ErrorCode::InvalidCommand);
        assert_eq!(code(r#"{"message":"/pm   "}"#), ErrorCode::InvalidCommand);
        assert_eq!(code(r#"{"message":"/pm bob"}"#), ErrorCode::EmptyMessage);
        assert_eq!(code(r#"{"message":"/pm bob   "}"#), ErrorCode::EmptyMessage);
        assert_eq!(code(r#"{"message":"/pm b@d hi"}"#), ErrorCode::UnknownUser);
        // Not the command: ordinary text.
        assert!(matches!(
            ClientFrame::parse(r#"{"message":"/pmx hi"}"#).unwrap(),
            ClientFrame::Chat(_)
        ));
        let pm = ClientFrame::parse(r#"{"message":"/pm bob psst"}"#).unwrap();
        assert_eq!(ClientFrame::parse(&pm.to_json()).unwrap(), pm);
        assert_eq!(
            ClientFrame::parse(r#"{"type":"typing"}"#).unwrap(),
            ClientFrame::Typing
        );
    }

    #[test]
    fn presence_events_have_the_documented_shape() {
        let cases = [
            (
                ServerEvent::UserList {
                    users: vec!["alice".into(), "bob".into()],
                },
                serde_json::json!({"type":"user_list","users":["alice","bob"]}),
            ),
            (
                ServerEvent::UserJoin {
                    user: "carol".into(),
                },
                serde_json::json!({"type":"user_join","user":"carol"}),
            ),
            (
                ServerEvent::UserLeave {
                    user: "carol".into(),
                },
                serde_json::json!({"type":"user_leave","user":"carol"}),
            ),
            (
                ServerEvent::PrivateMessage {
                    user: "alice".into(),
                    message: "psst".into(),
                },
                serde_json::json!({"type":"private_message","user":"alice","message":"psst"}),
            ),
            (
                ServerEvent::PrivateMessageDelivered {
                    target: "bob".into(),
                    message: "psst".into(),
                },
                serde_json::json!({"type":"private_message_delivered","target":"bob","message":"psst"}),
            ),
        ];
        for (event, json) in cases {
            assert_eq!(
                serde_json::from_str::<Value>(&event.to_json()).unwrap(),
                json
            );
        }
    }

    #[test]
    fn limit_counts_characters_not_bytes() {
        assert!(MessageText::parse(&"é".repeat(MESSAGE_MAX_CHARS)).is_ok());
    }

    #[test]
    fn events_have_the_documented_shape() {
        let event = ServerEvent::ChatMessage(ChatMessage {
            room: RoomName::parse("lobby").unwrap(),
            seq: 42,
            id: "m1".into(),
            user: "alice".into(),
            message: "hi".into(),
            ts: "2026-11-21T10:00:00Z".into(),
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
        });
        let json: Value = serde_json::from_str(&event.to_json()).unwrap();
        // Unedited, undeleted, unreacted: exactly the tutorials' shape.
        assert_eq!(
            json,
            serde_json::json!({"type":"chat_message","room":"lobby","seq":42,"id":"m1",
                "user":"alice","message":"hi","ts":"2026-11-21T10:00:00Z"})
        );
        let edited: Value = serde_json::from_str(
            &ServerEvent::MessageEdited {
                room: RoomName::parse("lobby").unwrap(),
                seq: 42,
                message: "hi!".into(),
                edited_at: "t".into(),
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            edited,
            serde_json::json!({"type":"message_edited","room":"lobby","seq":42,"message":"hi!","edited_at":"t"})
        );
        let limited: Value =
            serde_json::from_str(&ServerEvent::rate_limited("messages", 200).to_json()).unwrap();
        assert_eq!(limited["code"], "rate_limited");
        assert_eq!(limited["retry_after_ms"], 200);
        let err: Value =
            serde_json::from_str(&ServerEvent::error(ErrorCode::EmptyMessage, "x").to_json())
                .unwrap();
        assert_eq!(
            err,
            serde_json::json!({"type":"error","code":"empty_message","message":"x"})
        );
    }

    /// The wire names are the contract other clients match on: serde's
    /// snake_case must give exactly the names the protocol has always used.
    #[test]
    fn error_codes_keep_their_wire_names() {
        use ErrorCode as C;
        let names = [
            (C::InvalidJson, "invalid_json"),
            (C::InvalidFrame, "invalid_frame"),
            (C::InvalidMessage, "invalid_message"),
            (C::EmptyMessage, "empty_message"),
            (C::MessageTooLong, "message_too_long"),
            (C::UnknownType, "unknown_type"),
            (C::BinaryNotSupported, "binary_not_supported"),
            (C::Unavailable, "unavailable"),
            (C::NotAuthenticated, "not_authenticated"),
            (C::InvalidCommand, "invalid_command"),
            (C::UnknownUser, "unknown_user"),
            (C::UserOffline, "user_offline"),
            (C::UnknownMessage, "unknown_message"),
            (C::Forbidden, "forbidden"),
            (C::InvalidEmoji, "invalid_emoji"),
            (C::RateLimited, "rate_limited"),
        ];
        for (code, name) in names {
            assert_eq!(serde_json::to_value(code).unwrap(), name);
            assert_eq!(serde_json::from_value::<C>(name.into()).unwrap(), code);
        }
        let newer: C = serde_json::from_value("some_future_code".into()).unwrap();
        assert_eq!(newer, C::Other);
    }
}
