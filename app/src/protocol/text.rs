//! Text a person wrote, checked once where it enters: a chat message
//! (not blank, not too long, no control characters) and an emoji reaction
//! (one emoji from Unicode's set).
//!
//! The browser runs the cheap rules; the server adds those that need
//! Unicode's tables (what renders blank, what is an emoji), which are kept
//! out of the WASM. The server's answer is the one that counts.

use super::{ErrorCode, FrameError, MESSAGE_MAX_CHARS};

/// Most distinct emojis one message may carry, so a page of history has a
/// bounded size.
pub const REACTIONS_PER_MESSAGE: usize = 20;

/// The text of a chat message: not blank (nothing but spaces or invisible
/// characters), at most [`MESSAGE_MAX_CHARS`], and no control characters
/// but newline and tab (they could rewrite what a terminal or log shows).
/// The characters are kept as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, FrameError> {
        if renders_blank(raw) {
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
        if let Some(c) = raw
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(FrameError::new(
                ErrorCode::InvalidMessage,
                format!(
                    "Messages cannot contain control characters such as U+{:04X}.",
                    u32::from(c)
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
/// True if nothing of `raw` would show: only whitespace and, on the
/// server, default-ignorable characters (zero-width spaces, direction
/// marks, fillers), which TR39's skeleton leaves out.
fn renders_blank(raw: &str) -> bool {
    #[cfg(feature = "ssr")]
    {
        unicode_security::skeleton(raw).all(char::is_whitespace)
    }
    #[cfg(not(feature = "ssr"))]
    {
        raw.chars()
            .all(|c| c.is_whitespace() || crate::names::FILLERS.contains(&c))
    }
}

/// One emoji, as Unicode's emoji set has it (with skin tones, flags and
/// ZWJ sequences): so reactions stay pictures. On the server it is stored
/// fully qualified, so `❤` and `❤️` are the same reaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emoji(String);

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, FrameError> {
        let refused =
            || FrameError::new(ErrorCode::InvalidEmoji, "React with one emoji, such as 👍.");
        #[cfg(feature = "ssr")]
        {
            emojis::get(raw)
                .map(|emoji| Self(emoji.as_str().to_owned()))
                .ok_or_else(refused)
        }
        // The browser only sends emojis from its own picker; the shape is
        // checked here and the set on the server.
        #[cfg(not(feature = "ssr"))]
        {
            let chars = raw.chars().count();
            let pictorial = raw
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_ascii_alphanumeric() && !c.is_control());
            if (1..=8).contains(&chars) && pictorial {
                Ok(Self(raw.to_owned()))
            } else {
                Err(refused())
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
