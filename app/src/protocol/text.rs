//! Text a person wrote, checked once where it enters: a chat message
//! (not blank, not too long) and an emoji reaction.

use super::{ErrorCode, FrameError, MESSAGE_MAX_CHARS};

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
