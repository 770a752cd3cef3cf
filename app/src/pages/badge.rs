//! The mention badge beside one of the person's rooms (lobby, sidebar):
//! how many unread messages there say `@them`. A view only; the count
//! comes from [`super::mine::Mine`].

use crate::lang::{tf, use_i18n};
use leptos::prelude::*;

/// "@2": two unread messages mention the person. Nothing at zero.
#[component]
pub fn MentionBadge(n: u64) -> impl IntoView {
    let i18n = use_i18n();
    (n > 0).then(|| {
        view! {
            <span class="mention-count" aria-label=move || tf!(i18n.get_locale(), lobby.mentions, n = n)>
                "@" {n}
            </span>
        }
    })
}
