//! Text a person wrote, checked once where it enters: a chat message
//! (not blank, not too long, no control characters) and an emoji reaction
//! (one emoji from Unicode's set).
//!
//! The browser runs the cheap rules; the server adds those that need
//! Unicode's tables (what renders blank, what is an emoji), which are kept
//! out of the WASM. The server's answer is the one that counts.

use super::{ErrorCode, FrameError, MESSAGE_MAX_CHARS};
use serde::{Deserialize, Serialize};

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
        if let Some(c) = unbalanced_direction(raw) {
            return Err(FrameError::new(
                ErrorCode::InvalidMessage,
                format!(
                    "A direction control (U+{:04X}) must be closed on the same line, or it turns the text after it around.",
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

/// The first bidi control of `raw` left open at the end of its line, or a
/// closer with nothing to close (the "Trojan Source" trick,
/// CVE-2021-42574: `invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`).
/// Embeddings and overrides (U+202A, U+202B, U+202D, U+202E) close with
/// U+202C, isolates (U+2066 to U+2068) with U+2069, as Unicode's bidi
/// algorithm (UAX #9) pairs them; a line break ends them all, so each line
/// must balance. Marks (U+200E, U+200F, U+061C) open nothing and pass.
fn unbalanced_direction(raw: &str) -> Option<char> {
    const EMBEDDINGS: [char; 4] = ['\u{202A}', '\u{202B}', '\u{202D}', '\u{202E}'];
    const ISOLATES: std::ops::RangeInclusive<char> = '\u{2066}'..='\u{2068}';
    for line in raw.split('\n') {
        // Each open control, innermost last.
        let mut open: Vec<char> = Vec::new();
        for c in line.chars() {
            if EMBEDDINGS.contains(&c) || ISOLATES.contains(&c) {
                open.push(c);
            } else if c == '\u{202C}' {
                match open.last() {
                    Some(top) if EMBEDDINGS.contains(top) => {
                        open.pop();
                    }
                    _ => return Some(c),
                }
            } else if c == '\u{2069}' {
                // Closes its isolate; an embedding still open inside it is unbalanced.
                let Some(isolate) = open.iter().rposition(|o| ISOLATES.contains(o)) else {
                    return Some(c);
                };
                if let Some(inner) = open.get(isolate + 1) {
                    return Some(*inner);
                }
                open.truncate(isolate);
            }
        }
        if let Some(c) = open.first() {
            return Some(*c);
        }
    }
    None
}
/// True if nothing of `raw` would show: only whitespace and, on the
/// server, default-ignorable characters (zero-width spaces, direction
/// marks, fillers), which TR39's skeleton leaves out.
fn renders_blank(raw: &str) -> bool {
    #[cfg(feature = "ssr")]
    {
        unicode_security::skeleton(raw).all(char::is_whitespace)
    }
    // The page's own check, without the confusables table: whitespace,
    // the Hangul fillers and the Braille blank (U+2800, drawn as a space).
    #[cfg(not(feature = "ssr"))]
    {
        raw.chars()
            .all(|c| c.is_whitespace() || c == '\u{2800}' || crate::names::FILLERS.contains(&c))
    }
}

/// The id a client gives a post so that sending it again (after a dropped
/// connection) never stores it twice: 1 to 64 ASCII letters, digits, `-`
/// or `_` (a UUID fits). Unique per sender and room; the server answers
/// each post that has one with an `ack` naming its stored `seq`, and a
/// repeat with the same `ack`, storing and broadcasting nothing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

/// Longest client id, in characters.
pub const CLIENT_ID_MAX_CHARS: usize = 64;

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, FrameError> {
        let fits = (1..=CLIENT_ID_MAX_CHARS).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if fits {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FrameError::new(
                ErrorCode::InvalidFrame,
                format!(
                    r#""client_id" is 1 to {CLIENT_ID_MAX_CHARS} letters, digits, - or _ (a UUID fits)."#
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s).map_err(|e| e.message)
    }
}

impl From<ClientId> for String {
    fn from(id: ClientId) -> String {
        id.0
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
