//! A message's text as pieces to render: plain text, links (http and https
//! only, found by `linkify`) and `@name` mentions. The view builds each
//! piece as an element with its text as a text node, so nothing a person
//! types is ever parsed as HTML. Pure, tested below without a browser.

use crate::names::{USERNAME_MAX_CHARS, USERNAME_MIN_CHARS, is_name_char as name_char};
use linkify::{LinkFinder, LinkKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
    /// `@name`, without the `@`.
    Mention(&'a str),
}

/// Splits `text` into plain text, links and mentions, in order.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    let mut out = Vec::new();
    for span in finder.spans(text) {
        let s = span.as_str();
        match span.kind() {
            Some(LinkKind::Url) if is_web(s) => out.push(Piece::Link(s)),
            _ => mentions(s, &mut out),
        }
    }
    out
}

fn is_web(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Splits plain text at `@name` mentions.
fn mentions<'a>(text: &'a str, out: &mut Vec<Piece<'a>>) {
    let mut plain_from = 0;
    let mut chars = text.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((at, c)) = chars.next() {
        let starts = c == '@' && !previous.is_some_and(name_char);
        previous = Some(c);
        if !starts {
            continue;
        }
        let rest = &text[at + 1..];
        let len: usize = rest
            .chars()
            .take_while(|c| name_char(*c))
            .map(char::len_utf8)
            .sum();
        // A sentence's full stop is not part of the name.
        let name = rest[..len].trim_end_matches('.');
        let count = name.chars().count();
        if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&count) {
            continue;
        }
        if plain_from < at {
            out.push(Piece::Text(&text[plain_from..at]));
        }
        out.push(Piece::Mention(name));
        plain_from = at + 1 + name.len();
        while chars.peek().is_some_and(|(i, _)| *i < plain_from) {
            previous = chars.next().map(|(_, c)| c);
        }
    }
    if plain_from < text.len() {
        out.push(Piece::Text(&text[plain_from..]));
    }
}

/// The names `text` mentions, in order, each once (letter case aside),
/// at most `most`. The server notes these for the lobby's and sidebar's
/// mention badges: the same rule as the highlight the page draws.
pub fn mentioned(text: &str, most: usize) -> Vec<&str> {
    // Nearly every message has no `@`: skip the link finder for those.
    if !text.contains('@') {
        return Vec::new();
    }
    let mut names: Vec<&str> = Vec::new();
    for piece in pieces(text) {
        if let Piece::Mention(name) = piece
            && !names
                .iter()
                .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            names.push(name);
            if names.len() == most {
                break;
            }
        }
    }
    names
}

/// Whether `text` mentions `name` (letter case aside).
pub fn mentions_name(text: &str, name: &str) -> bool {
    pieces(text)
        .iter()
        .any(|p| matches!(p, Piece::Mention(m) if m.to_lowercase() == name.to_lowercase()))
}

/// The `@name` being typed at `cursor` (a char index), if any: where its
/// `@` is (byte index) and what follows it so far.
pub fn mention_at(text: &str, cursor: usize) -> Option<(usize, &str)> {
    let end = text
        .char_indices()
        .nth(cursor)
        .map_or(text.len(), |(i, _)| i);
    let before = &text[..end];
    let at = before.rfind('@')?;
    let typed = &before[at + 1..];
    let starts_word = !before[..at].chars().next_back().is_some_and(name_char);
    (starts_word && typed.chars().all(name_char) && typed.chars().count() < USERNAME_MAX_CHARS)
        .then_some((at, typed))
}

/// People whose names start with `typed` (letter case aside), at most `n`.
pub fn candidates<'a>(
    people: &'a [String],
    typed: &str,
    me: Option<&str>,
    n: usize,
) -> Vec<&'a str> {
    let typed = typed.to_lowercase();
    people
        .iter()
        .map(String::as_str)
        .filter(|p| Some(*p) != me && p.to_lowercase().starts_with(&typed))
        .take(n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::*;

    #[test]
    fn links_and_mentions_are_found_and_the_rest_is_text() {
        assert_eq!(
            pieces("hi @bob, see https://example.com/a?b=1. ok"),
            [
                Text("hi "),
                Mention("bob"),
                Text(", see "),
                Link("https://example.com/a?b=1"),
                Text(". ok"),
            ]
        );
        assert_eq!(pieces("@alice."), [Mention("alice"), Text(".")]);
        // Not a web link, not a mention: an address, a short name, a script.
        assert_eq!(pieces("me@example.com @al"), [Text("me@example.com @al")]);
        assert_eq!(pieces("javascript:alert(1)"), [Text("javascript:alert(1)")]);
        assert_eq!(
            pieces("<b>@Zoë</b>"),
            [Text("<b>"), Mention("Zoë"), Text("</b>")]
        );
        assert!(mentions_name("thanks @BOB", "bob"));
        assert!(!mentions_name("thanks @bobby", "bob"));
    }

    #[test]
    fn the_mention_being_typed_is_found_at_the_cursor() {
        assert_eq!(mention_at("hi @bo", 6), Some((3, "bo")));
        assert_eq!(mention_at("hi @", 4), Some((3, "")));
        assert_eq!(mention_at("hi @bob there", 13), None);
        assert_eq!(mention_at("me@ex", 5), None);
        assert_eq!(mention_at("@Zö", 3), Some((0, "Zö")));
        let people = ["alice".to_owned(), "Albert".to_owned(), "bob".to_owned()];
        assert_eq!(candidates(&people, "al", None, 5), ["alice", "Albert"]);
        assert_eq!(candidates(&people, "", Some("bob"), 5), ["alice", "Albert"]);
    }
}
