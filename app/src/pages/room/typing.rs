//! Who is typing: each `typing` signal shows the person for 5 s, a newer
//! signal restarts their timer, and their message (or their leaving) ends
//! it at once. The [`Typing`] line under the log says so in words.

use super::state::RoomState;
use crate::lang::{Locale, tf};
use leptos::prelude::*;
use std::collections::HashMap;

/// A typing indicator disappears this long after the person's last signal.
const TYPING_SHOWN: std::time::Duration = std::time::Duration::from_secs(5);

/// Who is typing, in the order they started.
#[derive(Clone, Copy)]
pub struct WhoTypes {
    names: RwSignal<Vec<String>>,
    /// Per person, which typing signal is the latest: only its timer clears them.
    generation: StoredValue<HashMap<String, u64>>,
}

impl WhoTypes {
    pub fn new() -> Self {
        Self {
            names: RwSignal::new(Vec::new()),
            generation: StoredValue::new(HashMap::new()),
        }
    }

    /// `user` signalled typing: show them until 5 s after the latest signal.
    pub fn signal(self, user: String) {
        let mut generation = 0;
        self.generation.update_value(|g| {
            let n = g.entry(user.clone()).or_insert(0);
            *n += 1;
            generation = *n;
        });
        if self.names.with_untracked(|t| !t.contains(&user)) {
            self.names.update(|t| t.push(user.clone()));
        }
        set_timeout(
            move || {
                let latest = self
                    .generation
                    .with_value(|g| g.get(&user) == Some(&generation));
                if latest {
                    self.stop(&user);
                }
            },
            TYPING_SHOWN,
        );
    }

    /// `user` sent their message or left: no longer typing.
    pub fn stop(self, user: &str) {
        if self.names.with_untracked(|t| t.iter().any(|u| u == user)) {
            self.names.update(|t| t.retain(|u| u != user));
        }
    }

    fn line(self, locale: Locale) -> String {
        typing_line(locale, &self.names.get())
    }
}

/// "alice is typing…", "alice and bob are typing…", "3 people are typing…".
fn typing_line(locale: Locale, names: &[String]) -> String {
    match names {
        [] => String::new(),
        [a] => tf!(locale, typing.one, a = a),
        [a, b] => tf!(locale, typing.two, a = a, b = b),
        many => tf!(locale, typing.many, n = many.len()),
    }
}

/// The line under the log that says who is typing.
#[component]
pub fn Typing() -> impl IntoView {
    let state = expect_context::<RoomState>();
    view! { <p id="typing" class="typing" aria-live="polite">{move || state.typing.line(state.i18n.get_locale())}</p> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_line_reads_naturally() {
        let english = Locale::en;
        assert_eq!(typing_line(english, &[]), "");
        assert_eq!(typing_line(english, &["al".into()]), "al is typing…");
        assert_eq!(
            typing_line(english, &["al".into(), "bo".into()]),
            "al and bo are typing…"
        );
        let three = ["a".into(), "b".into(), "c".into()];
        assert_eq!(typing_line(english, &three), "3 people are typing…");
        assert_eq!(typing_line(Locale::zh, &three), "3 人正在输入…");
        assert_eq!(
            typing_line(Locale::zh, &["al".into(), "bo".into()]),
            "al 和 bo 正在输入…"
        );
    }
}
