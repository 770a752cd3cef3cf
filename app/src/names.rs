//! Names people type: room names and usernames, parsed once into
//! newtypes so that everything downstream can trust them. The same rules run
//! in the browser (to explain a bad name before navigating) and on the server
//! (to refuse it at the WebSocket upgrade).
//!
//! Names must look like what they are: each has a visible letter or digit,
//! none has a blank Hangul filler, and on the server each has a
//! [lookalike key](Username::lookalike_key) (Unicode TR39's confusable
//! skeleton after NFKC and case folding) that storage keeps unique, so
//! `аlice` (Cyrillic а), `ＡＬＩＣＥ` and `Alice` cannot sit beside `alice`.
//! The key's tables (tens of KB) are compiled into the server only.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest room name, in characters (not bytes: `聊天室` is three).
pub const ROOM_NAME_MAX_CHARS: usize = 64;

/// A room name: 1–64 letters, digits, `_`, `-` or `.`; Unicode letters and
/// digits are allowed and case matters. `.` and `..` alone are refused
/// because browsers treat them as path segments and would never reach the room.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

/// Why a room name was refused, worded for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomNameError {
    Empty,
    TooLong,
    InvalidChar(char),
    DotsOnly,
    /// No visible letter or digit (only `_`, `-`, `.`).
    NoLetters,
    /// More than [`MOST_MARKS`] combining marks on one letter, or one mark
    /// twice in a row (text that spills over its neighbours).
    TooManyMarks,
}

/// In English (the server's words); pages use `lang::room_name_error_text`.
impl fmt::Display for RoomNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = crate::lang::room_name_error_text(crate::lang::Locale::en, self);
        f.write_str(&text)
    }
}

impl std::error::Error for RoomNameError {}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, RoomNameError> {
        if raw.is_empty() {
            return Err(RoomNameError::Empty);
        }
        if raw.chars().count() > ROOM_NAME_MAX_CHARS {
            return Err(RoomNameError::TooLong);
        }
        if let Some(c) = raw.chars().find(|c| !is_name_char(*c)) {
            return Err(RoomNameError::InvalidChar(c));
        }
        if raw == "." || raw == ".." {
            return Err(RoomNameError::DotsOnly);
        }
        if !has_letters(raw) {
            return Err(RoomNameError::NoLetters);
        }
        if piles_marks(raw) {
            return Err(RoomNameError::TooManyMarks);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The direct conversation between two people: `@alice+bob`, the
    /// names in byte order, so either person names the same one. `@` and
    /// `+` are in no room name and no username: no room can be called
    /// like a conversation, and the two names always split apart.
    pub fn direct(a: &Username, b: &Username) -> Self {
        let (first, second) = if a.as_str() <= b.as_str() {
            (a, b)
        } else {
            (b, a)
        };
        Self(format!("{DIRECT_PREFIX}{first}{DIRECT_SEPARATOR}{second}"))
    }

    /// Whether this is a direct conversation between two people.
    pub fn is_direct(&self) -> bool {
        self.0.starts_with(DIRECT_PREFIX)
    }

    /// The two people of a direct conversation.
    pub fn people(&self) -> Option<(&str, &str)> {
        self.0
            .strip_prefix(DIRECT_PREFIX)?
            .split_once(DIRECT_SEPARATOR)
    }

    /// In a direct conversation `me` is in, the other person.
    pub fn peer_of(&self, me: &str) -> Option<&str> {
        match self.people()? {
            (a, b) if a == me => Some(b),
            (a, b) if b == me => Some(a),
            _ => None,
        }
    }

    /// A name as storage and the server's events carry it: a room's, or
    /// a direct conversation's (which no person can type as a room).
    pub fn parse_stored(raw: &str) -> Result<Self, RoomNameError> {
        let direct = raw
            .strip_prefix(DIRECT_PREFIX)
            .and_then(|rest| rest.split_once(DIRECT_SEPARATOR))
            .and_then(|(a, b)| {
                let (a, b) = (
                    Username::parse_existing(a).ok()?,
                    Username::parse_existing(b).ok()?,
                );
                (a < b).then(|| Self::direct(&a, &b))
            });
        match direct {
            Some(room) => Ok(room),
            None => Self::parse(raw),
        }
    }

    /// The room page, percent-encoded: `/chat/<room>/`.
    pub fn page_path(&self) -> String {
        format!("/chat/{}/", percent_encode(&self.0))
    }

    /// The page of the direct conversation with `peer`: `/chat/dm/<peer>/`.
    pub fn direct_page_path(peer: &str) -> String {
        format!("/chat/dm/{}/", percent_encode(peer))
    }

    /// The WebSocket of the direct conversation with `peer`: `/ws/dm/<peer>/`.
    pub fn direct_ws_path(peer: &str) -> String {
        format!("/ws/dm/{}/", percent_encode(peer))
    }

    /// The WebSocket endpoint, percent-encoded: `/ws/chat/<room>/`.
    pub fn ws_path(&self) -> String {
        format!("/ws/chat/{}/", percent_encode(&self.0))
    }
}

/// What starts a direct conversation's name, and what parts its two names.
const DIRECT_PREFIX: char = '@';
const DIRECT_SEPARATOR: char = '+';

/// A character room names and usernames may have.
pub fn is_name_char(c: char) -> bool {
    (c.is_alphanumeric() && !FILLERS.contains(&c)) || matches!(c, '_' | '-' | '.')
}

/// The letters that render as nothing: Hangul fillers. They are the only
/// default-ignorable code points Unicode counts as letters (the server's
/// tests check this against `unicode-security`'s tables); every other
/// invisible character is not alphanumeric and so never passes
/// [`is_name_char`] anyway.
pub const FILLERS: [char; 4] = ['\u{115F}', '\u{1160}', '\u{3164}', '\u{FFA0}'];

/// At least one visible letter or digit, so a name is never blank.
fn has_letters(raw: &str) -> bool {
    raw.chars()
        .any(|c| c.is_alphanumeric() && !FILLERS.contains(&c))
}

/// Two names with the same key look alike: NFKC (`ａ` is `a`), case
/// folding (`A` is `a`, `ß` is `ss`), then Unicode TR39's confusable
/// skeleton (Cyrillic `а` is `a`, `1` and `I` are `l`), folded again
/// because some skeletons are capitals.
#[cfg(feature = "ssr")]
pub fn lookalike_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded = caseless::default_case_fold_str(&name.nfkc().collect::<String>());
    let skeleton: String = unicode_security::skeleton(&folded).collect();
    caseless::default_case_fold_str(&skeleton)
}

/// Combining marks one letter may carry: enough for any script's vowel
/// signs and tones (Vietnamese has two, Thai and Devanagari up to three),
/// too few to stack a name over the lines around it.
pub const MOST_MARKS: usize = 3;

/// Whether `raw` puts more than [`MOST_MARKS`] combining marks on a letter,
/// or the same mark twice in a row: UTS #39 §5.4's checks for excessive
/// marks ("Zalgo" names). On the server only: the mark table stays out of
/// the WASM, and the server's answer is the one that counts.
fn piles_marks(raw: &str) -> bool {
    #[cfg(feature = "ssr")]
    {
        use unicode_normalization::char::is_combining_mark;
        let (mut run, mut last) = (0, None);
        for c in raw.chars() {
            if !is_combining_mark(c) {
                (run, last) = (0, None);
                continue;
            }
            run += 1;
            if run > MOST_MARKS || last == Some(c) {
                return true;
            }
            last = Some(c);
        }
        false
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = raw;
        false
    }
}

/// Names nobody may sign up with (nor with a lookalike of one): they
/// would pass for the service or its staff. An operator can still give an
/// account one with `server create-admin`.
pub const RESERVED_USERNAMES: [&str; 12] = [
    "admin",
    "administrator",
    "root",
    "system",
    "moderator",
    "mod",
    "staff",
    "support",
    "security",
    "official",
    "server",
    "chat",
];

/// Whether signing up as `name` is refused because it is, or looks like,
/// a [reserved](RESERVED_USERNAMES) name.
#[cfg(feature = "ssr")]
pub fn is_reserved(name: &Username) -> bool {
    let key = lookalike_key(name.as_str());
    RESERVED_USERNAMES.iter().any(|r| lookalike_key(r) == key)
}

/// Percent-encodes everything but ASCII letters, digits and `-_.~` (RFC 3986
/// "unreserved"), which is all a room or user name needs in a path segment.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for RoomName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// As the server's events and storage carry it: a direct conversation's
/// name too. What a person types goes through [`RoomName::parse`].
impl TryFrom<String> for RoomName {
    type Error = RoomNameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_stored(&s)
    }
}

impl From<RoomName> for String {
    fn from(r: RoomName) -> String {
        r.0
    }
}

/// Username length limits, in characters.
pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 32;

/// A username: 3–32 letters, digits, `_`, `-` or `.` (Unicode letters
/// allowed, no spaces or fillers), at least one of them a letter or digit.
/// Stored and shown exactly as typed; unique by its lookalike key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

/// Why a username was refused, worded for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsernameError {
    Length,
    InvalidChar(char),
    /// No visible letter or digit (only `_`, `-`, `.`).
    NoLetters,
    /// Too many combining marks on a letter (see [`MOST_MARKS`]).
    TooManyMarks,
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => write!(
                f,
                "Usernames are {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long."
            ),
            Self::InvalidChar(' ') => write!(
                f,
                "Usernames cannot contain spaces: use letters, digits, _, - or ."
            ),
            Self::InvalidChar(c) => write!(
                f,
                "Usernames cannot contain {c:?}: use letters, digits, _, - or ."
            ),
            Self::NoLetters => write!(f, "A username needs a letter or a digit."),
            Self::TooManyMarks => write!(
                f,
                "A username may carry at most {MOST_MARKS} accents on a letter."
            ),
        }
    }
}

impl std::error::Error for UsernameError {}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let chars = raw.chars().count();
        if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&chars) {
            return Err(UsernameError::Length);
        }
        if let Some(c) = raw.chars().find(|c| !is_name_char(*c)) {
            return Err(UsernameError::InvalidChar(c));
        }
        if !has_letters(raw) {
            return Err(UsernameError::NoLetters);
        }
        if piles_marks(raw) {
            return Err(UsernameError::TooManyMarks);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A name as an account may already have it: the rules before letters
    /// were required and fillers refused, so every account made under them
    /// can still log in. Only for looking up existing accounts.
    pub fn parse_existing(raw: &str) -> Result<Self, UsernameError> {
        let chars = raw.chars().count();
        if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&chars) {
            return Err(UsernameError::Length);
        }
        match raw
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            Some(c) => Err(UsernameError::InvalidChar(c)),
            None => Ok(Self(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_direct_conversation_has_one_name_for_both_and_no_room_can_take_it() {
        use super::{RoomName, Username};
        let (al, bo) = (
            Username::parse_existing("ala").unwrap(),
            Username::parse_existing("bob.b").unwrap(),
        );
        let room = RoomName::direct(&bo, &al);
        assert_eq!(room, RoomName::direct(&al, &bo));
        assert_eq!(room.as_str(), "@ala+bob.b");
        assert!(room.is_direct());
        assert_eq!(room.peer_of("ala"), Some("bob.b"));
        assert_eq!(room.peer_of("carol"), None);
        assert!(RoomName::parse("@ala+bob.b").is_err(), "nobody types it");
        assert_eq!(RoomName::parse_stored("@ala+bob.b"), Ok(room));
        for bad in ["@bob.b+ala", "@ala+ala", "@ala", "@ala+b@d"] {
            assert!(RoomName::parse_stored(bad).is_err(), "{bad}");
        }
        assert!(!RoomName::parse("general").unwrap().is_direct());
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn a_few_marks_per_letter_pass_and_a_pile_does_not() {
        // Vietnamese, and Thai vowel signs. (Decomposed accents such
        // as U+0301 are not letters, so names never had them.)
        for fine in ["Nguyễn", "สวัสดี", "ก\u{0E34}\u{0E31}"] {
            assert!(Username::parse(fine).is_ok(), "{fine:?}");
            assert!(RoomName::parse(fine).is_ok(), "{fine:?}");
        }
        // Thai vowel marks are letters, and would stack over the lines.
        for zalgo in ["ก\u{0E34}\u{0E35}\u{0E36}\u{0E37}x", "ab\u{0E34}\u{0E34}c"] {
            assert_eq!(
                Username::parse(zalgo),
                Err(UsernameError::TooManyMarks),
                "{zalgo:?}"
            );
            assert_eq!(
                RoomName::parse(zalgo),
                Err(RoomNameError::TooManyMarks),
                "{zalgo:?}"
            );
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn reserved_names_and_their_lookalikes_are_reserved() {
        for taken in ["admin", "Admin", "\u{430}dmin", "ＳＹＳＴＥＭ", "moderator"] {
            assert!(is_reserved(&Username::parse(taken).unwrap()), "{taken:?}");
        }
        assert!(!is_reserved(&Username::parse("adminfan").unwrap()));
    }

    use super::*;

    #[test]
    fn accepts_ascii_unicode_and_punctuation() {
        for ok in [
            "lobby",
            "Lobby",
            "聊天室",
            "café-2.0_x",
            "a",
            &"x".repeat(64),
        ] {
            assert_eq!(RoomName::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_what_the_rules_refuse() {
        assert_eq!(RoomName::parse(""), Err(RoomNameError::Empty));
        assert_eq!(
            RoomName::parse(&"é".repeat(65)),
            Err(RoomNameError::TooLong)
        );
        assert_eq!(
            RoomName::parse("two words"),
            Err(RoomNameError::InvalidChar(' '))
        );
        assert_eq!(RoomName::parse("a/b"), Err(RoomNameError::InvalidChar('/')));
        assert_eq!(RoomName::parse(".."), Err(RoomNameError::DotsOnly));
        assert!(RoomName::parse("a%20b").is_err());
        assert_eq!(RoomName::parse("_-_"), Err(RoomNameError::NoLetters));
        assert_eq!(
            RoomName::parse("\u{3164}\u{3164}"),
            Err(RoomNameError::InvalidChar('\u{3164}'))
        );
    }

    #[test]
    fn case_matters() {
        assert_ne!(RoomName::parse("Lobby"), RoomName::parse("lobby"));
    }

    #[test]
    fn paths_are_percent_encoded() {
        let room = RoomName::parse("聊天室").unwrap();
        assert_eq!(room.page_path(), "/chat/%E8%81%8A%E5%A4%A9%E5%AE%A4/");
        assert_eq!(room.ws_path(), "/ws/chat/%E8%81%8A%E5%A4%A9%E5%AE%A4/");
        assert_eq!(
            RoomName::parse("a.b-c_d").unwrap().page_path(),
            "/chat/a.b-c_d/"
        );
    }

    #[test]
    fn usernames_follow_their_rules() {
        for ok in ["bob", "Ana_María", "li.wei-2", "用户名", &"x".repeat(32)] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"x".repeat(33)), Err(UsernameError::Length));
        assert_eq!(
            Username::parse("a b c"),
            Err(UsernameError::InvalidChar(' '))
        );
        assert_eq!(
            Username::parse("bob@x"),
            Err(UsernameError::InvalidChar('@'))
        );
        assert_eq!(Username::parse("___"), Err(UsernameError::NoLetters));
        assert_eq!(
            Username::parse("\u{3164}\u{3164}\u{3164}"),
            Err(UsernameError::InvalidChar('\u{3164}'))
        );
        // A blank-looking name made before the rule can still log in.
        assert!(Username::parse_existing("___").is_ok());
    }

    /// FILLERS is exactly the set of letters Unicode marks default-ignorable.
    #[cfg(feature = "ssr")]
    #[test]
    fn fillers_are_the_only_invisible_letters() {
        use unicode_security::{GeneralSecurityProfile, general_security_profile::IdentifierType};
        let invisible_letters: Vec<char> = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|c| {
                c.is_alphanumeric()
                    && c.identifier_type() == Some(IdentifierType::Default_Ignorable)
            })
            .collect();
        assert_eq!(invisible_letters, FILLERS);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn lookalikes_share_a_key() {
        let key = lookalike_key("alevukqc");
        for twin in ["Alevukqc", "\u{430}levukqc", "ａｌｅｖｕｋｑｃ", "ALEVUKQC"] {
            assert_eq!(lookalike_key(twin), key, "{twin}");
        }
        assert_eq!(lookalike_key("g\u{435}neral"), lookalike_key("general"));
        assert_ne!(lookalike_key("alice"), lookalike_key("alicia"));
    }

    #[test]
    fn deserializing_parses() {
        assert!(serde_json::from_str::<RoomName>("\"bad name\"").is_err());
        assert_eq!(
            serde_json::from_str::<RoomName>("\"ok\"").unwrap().as_str(),
            "ok"
        );
    }
}
