//! What a client may send: [`ClientFrame`], parsed from one JSON text
//! frame by a dispatch on `type`, one small parser per kind (as mini-redis
//! parses its commands), each refusal naming what was wrong.

use super::{ClientId, Emoji, ErrorCode, FrameError, HISTORY_MAX, HISTORY_PAGE, MessageText};
use crate::names::Username;
use serde_json::{Map, Value};

/// Everything a client may send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientFrame {
    /// `{"message": "hi"}` (the tutorials' frame; `"type"` may be omitted),
    /// with an optional `"client_id"` that makes sending it again safe.
    Chat {
        text: MessageText,
        client_id: Option<ClientId>,
    },
    /// `{"type":"history","before_seq":40,"limit":50}`: older messages.
    /// Without `before_seq`, the latest page.
    History { before_seq: Option<u64>, limit: u32 },
    /// `{"message": "/pm bob psst"}`: stored in the direct conversation
    /// with `to`, and to every connection of theirs. A `"client_id"` makes
    /// sending it again safe, as for a chat message.
    PrivateMessage {
        to: Username,
        text: MessageText,
        client_id: Option<ClientId>,
    },
    /// `{"type":"typing"}`.
    Typing,
    /// `{"type":"edit","seq":42,"message":"hi, fixed"}`: own message, within
    /// 10 minutes. A `"client_id"` makes sending it again safe: a repeat
    /// is acked, not applied again.
    Edit {
        seq: u64,
        text: MessageText,
        client_id: Option<ClientId>,
    },
    /// `{"type":"delete","seq":42}`: own message within 10 minutes, or any as an admin.
    Delete { seq: u64 },
    /// `{"type":"react","seq":42,"emoji":"👍"}`: toggles this person's reaction.
    React { seq: u64, emoji: Emoji },
    /// `{"type":"read","seq":42}`: this person has seen the room up to
    /// `seq` (their read marker moves forward, never back).
    Read { seq: u64 },
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
            "chat_message" => parse_chat(fields.remove("message"), fields.get("client_id")),
            "history" => parse_history(&fields),
            "typing" => Ok(Self::Typing),
            "edit" => parse_edit(&fields),
            "delete" => Ok(Self::Delete {
                seq: required_seq(&fields)?,
            }),
            "react" => parse_react(&fields),
            "read" => Ok(Self::Read {
                seq: required_seq(&fields)?,
            }),
            other => Err(FrameError::new(
                ErrorCode::UnknownType,
                format!("Unknown frame type {other:?}."),
            )),
        }
    }

    /// What a typed `text` posts: a chat message, or a private message
    /// when it starts with `/pm`.
    pub fn post(text: &str, client_id: Option<ClientId>) -> Result<Self, FrameError> {
        match private_command(text) {
            Some(rest) => parse_pm(rest, client_id),
            None => Ok(Self::Chat {
                text: MessageText::parse(text)?,
                client_id,
            }),
        }
    }

    /// The id the sender gave this post, if any.
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::Chat { client_id, .. }
            | Self::PrivateMessage { client_id, .. }
            | Self::Edit { client_id, .. } => client_id.as_ref(),
            _ => None,
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            Self::Chat { text, client_id } => chat_json(text.as_str(), client_id.as_ref()),
            Self::History { before_seq, limit } => {
                serde_json::json!({ "type": "history", "before_seq": before_seq, "limit": limit })
                    .to_string()
            }
            Self::PrivateMessage {
                to,
                text,
                client_id,
            } => chat_json(&format!("/pm {to} {}", text.as_str()), client_id.as_ref()),
            Self::Typing => r#"{"type":"typing"}"#.to_owned(),
            Self::Edit {
                seq,
                text,
                client_id,
            } => {
                let mut frame =
                    serde_json::json!({ "type": "edit", "seq": seq, "message": text.as_str() });
                if let Some(id) = client_id {
                    frame["client_id"] = id.as_str().into();
                }
                frame.to_string()
            }
            Self::Delete { seq } => serde_json::json!({ "type": "delete", "seq": seq }).to_string(),
            Self::React { seq, emoji } => {
                serde_json::json!({ "type": "react", "seq": seq, "emoji": emoji.as_str() })
                    .to_string()
            }
            Self::Read { seq } => serde_json::json!({ "type": "read", "seq": seq }).to_string(),
        }
    }
}
/// `{"message": …}`, with the client id when there is one.
fn chat_json(message: &str, client_id: Option<&ClientId>) -> String {
    match client_id {
        Some(id) => serde_json::json!({ "message": message, "client_id": id.as_str() }),
        None => serde_json::json!({ "message": message }),
    }
    .to_string()
}

/// What follows `/pm` when `text` is a private message command.
pub fn private_command(text: &str) -> Option<&str> {
    text.strip_prefix("/pm")
        .filter(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

/// `{"message": "hi", "client_id": "…"}`, or `{"message": "/pm bob psst"}`.
fn parse_chat(
    message: Option<Value>,
    client_id: Option<&Value>,
) -> Result<ClientFrame, FrameError> {
    match message {
        Some(Value::String(text)) => ClientFrame::post(&text, optional_client_id(client_id)?),
        Some(_) => Err(FrameError::new(
            ErrorCode::InvalidMessage,
            r#""message" must be a string."#,
        )),
        None => Err(FrameError::new(
            ErrorCode::InvalidMessage,
            r#"A chat frame needs a "message" string."#,
        )),
    }
}

/// `"client_id"`, if the frame has one (`null` counts as none).
fn optional_client_id(raw: Option<&Value>) -> Result<Option<ClientId>, FrameError> {
    match raw {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) => ClientId::parse(id).map(Some),
        Some(_) => Err(FrameError::new(
            ErrorCode::InvalidFrame,
            r#""client_id" must be a string."#,
        )),
    }
}

/// `{"type":"history","before_seq":40,"limit":50}`.
fn parse_history(fields: &Map<String, Value>) -> Result<ClientFrame, FrameError> {
    let before_seq = optional_count(fields, "before_seq", u64::MAX)?;
    let limit =
        optional_count(fields, "limit", HISTORY_MAX as u64)?.map_or(HISTORY_PAGE, |n| n as u32);
    Ok(ClientFrame::History { before_seq, limit })
}

/// `{"type":"edit","seq":42,"message":"hi, fixed"}`.
fn parse_edit(fields: &Map<String, Value>) -> Result<ClientFrame, FrameError> {
    let seq = required_seq(fields)?;
    match fields.get("message") {
        Some(Value::String(text)) => Ok(ClientFrame::Edit {
            seq,
            text: MessageText::parse(text)?,
            client_id: optional_client_id(fields.get("client_id"))?,
        }),
        _ => Err(FrameError::new(
            ErrorCode::InvalidMessage,
            r#"An edit needs the new "message" string."#,
        )),
    }
}

/// `{"type":"react","seq":42,"emoji":"👍"}`.
fn parse_react(fields: &Map<String, Value>) -> Result<ClientFrame, FrameError> {
    let seq = required_seq(fields)?;
    match fields.get("emoji") {
        Some(Value::String(emoji)) => Ok(ClientFrame::React {
            seq,
            emoji: Emoji::parse(emoji)?,
        }),
        _ => Err(FrameError::new(
            ErrorCode::InvalidEmoji,
            r#"A reaction needs an "emoji" string, such as "👍"."#,
        )),
    }
}

/// The `seq` an edit, delete or reaction is about.
fn required_seq(fields: &Map<String, Value>) -> Result<u64, FrameError> {
    optional_count(fields, "seq", u64::MAX)?.ok_or_else(|| {
        FrameError::new(
            ErrorCode::InvalidFrame,
            r#"Say which message: "seq" is missing."#,
        )
    })
}

/// An optional field holding a whole number from 1 to `max`.
fn optional_count(
    fields: &Map<String, Value>,
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
/// What follows `/pm `, split into the name and the text.
fn parse_pm(rest: &str, client_id: Option<ClientId>) -> Result<ClientFrame, FrameError> {
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
    Ok(ClientFrame::PrivateMessage {
        to,
        text,
        client_id,
    })
}
