//! `@` in the message box: the people in the room whose names start with
//! what follows it, as a list under the box (arrows choose, Tab or Enter
//! completes, Esc closes; a click picks one). `rich.rs` finds the `@…`
//! being typed and the candidates; this file is the list and its keys.

use super::{
    rich::{candidates, mention_at},
    state::RoomState,
};
use crate::lang::tr;
use leptos::prelude::*;

/// Most names the `@` list offers at once.
const SUGGESTED: usize = 6;

/// The `@name` list under the cursor: what was typed, where its `@` is,
/// the names offered and which is chosen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suggestions {
    at: usize,
    names: Vec<String>,
    chosen: usize,
}

impl Suggestions {
    /// The id of the chosen item, for the box's `aria-activedescendant`.
    pub fn chosen_id(&self) -> String {
        format!("mention-{}", self.chosen)
    }
}

/// The names to offer for the `@name` at the cursor, if one is being typed.
pub fn suggest(state: RoomState) -> Option<Suggestions> {
    let field = state.draft.input.get_untracked()?;
    let text = field.value();
    let cursor = field.selection_start().ok().flatten()? as usize;
    let (at, typed) = mention_at(&text, utf16_to_chars(&text, cursor))?;
    let me = state.me.name();
    let names: Vec<String> = state.users.with_untracked(|people| {
        candidates(people, typed, me.as_deref(), SUGGESTED)
            .into_iter()
            .map(str::to_owned)
            .collect()
    });
    (!names.is_empty()).then_some(Suggestions {
        at,
        names,
        chosen: 0,
    })
}

/// The browser counts the cursor in UTF-16 units; the text is chars.
fn utf16_to_chars(text: &str, units: usize) -> usize {
    let mut seen = 0;
    text.chars()
        .take_while(|c| {
            seen += c.len_utf16();
            seen <= units
        })
        .count()
}

/// Arrows, Tab, Enter and Esc while the `@` list is open; true if handled.
pub fn on_suggestion_key(
    state: RoomState,
    suggestions: RwSignal<Option<Suggestions>>,
    ev: &leptos::ev::KeyboardEvent,
) -> bool {
    let len = suggestions.with_untracked(|s| s.as_ref().map_or(0, |s| s.names.len()));
    let step = |by: usize| {
        suggestions.update(|s| {
            if let Some(s) = s {
                s.chosen = (s.chosen + by) % len;
            }
        })
    };
    match ev.key().as_str() {
        "ArrowDown" => step(1),
        "ArrowUp" => step(len - 1),
        "Tab" | "Enter" => {
            if let Some(s) = suggestions.get_untracked() {
                complete(state, &s);
            }
            suggestions.set(None);
        }
        "Escape" => suggestions.set(None),
        _ => return false,
    }
    true
}

/// Puts the chosen name in place of the `@…` being typed.
fn complete(state: RoomState, s: &Suggestions) {
    let Some(field) = state.draft.input.get_untracked() else {
        return;
    };
    let text = field.value();
    let typed_end = text[s.at + 1..]
        .char_indices()
        .find(|(_, c)| !crate::names::is_name_char(*c))
        .map_or(text.len(), |(i, _)| s.at + 1 + i);
    let name = &s.names[s.chosen];
    let before = format!("{}@{name} ", &text[..s.at]);
    let after = text[typed_end..].trim_start();
    field.set_value(&format!("{before}{after}"));
    let cursor = before.encode_utf16().count() as u32;
    let _ = field.set_selection_range(cursor, cursor);
}

/// The names offered for the `@` being typed.
#[component]
pub fn MentionList(suggestions: RwSignal<Option<Suggestions>>) -> impl IntoView {
    let state = expect_context::<RoomState>();
    view! {
        <ul id="mention-list" class="mentions" role="listbox" aria-label=tr!(state.i18n, composer.mentions)
            hidden=move || suggestions.with(Option::is_none)>
            {move || suggestions.get().map(|s| s.names.iter().enumerate().map(|(i, name)| {
                let chosen = i == s.chosen;
                let pick = s.clone();
                view! {
                    // mousedown, not click: the box must not lose focus first.
                    <li id=format!("mention-{i}") role="option" aria-selected=chosen.to_string()
                        class:chosen=chosen
                        on:mousedown=move |ev| {
                            ev.prevent_default();
                            complete(state, &Suggestions { chosen: i, ..pick.clone() });
                            suggestions.set(None);
                        }>
                        "@" {name.clone()}
                    </li>
                }
            }).collect_view())}
        </ul>
    }
}
