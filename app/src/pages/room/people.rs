//! The "Online" aside: who is in the room now. Clicking a name starts a
//! private message to them (`/pm <name> ` in the message box); "Message"
//! beside it opens the direct conversation with them.

use super::state::RoomState;
use crate::{
    lang::{I18n, tf, tr},
    names::RoomName,
};
use leptos::prelude::*;

#[component]
pub fn People() -> impl IntoView {
    let state = expect_context::<RoomState>();
    let start_pm = Callback::new(move |name: String| {
        state.draft.fill(&format!("/pm {name} "));
    });
    view! {
       <aside class="people" aria-labelledby="people-title">
           <h2 id="people-title">
               {tr!(state.i18n, people.online)} " " <span class="count">{move || state.online.get()}</span>
           </h2>
           <ul id="user-list">
               <For each=move || state.users.get() key=|u| u.clone() let:name>
                   <Person is_me=state.is_me(&name) name on_pick=start_pm i18n=state.i18n />
               </For>
           </ul>
           <Unlisted />
           <p class="hint">{tr!(state.i18n, people.hint)}</p>
       </aside>
    }
    // Erased: the room's view type stays shallow enough for release builds.
    .into_any()
}

/// A big room lists only some of its people: how many more there are.
#[component]
fn Unlisted() -> impl IntoView {
    let state = expect_context::<RoomState>();
    let more = move || {
        state
            .online
            .get()
            .saturating_sub(state.users.with(Vec::len))
    };
    let i18n = state.i18n;
    move || {
        (more() > 0).then(|| {
            let text = tf!(i18n.get_locale(), people.more, count = more());
            view! { <p class="more-people">{text}</p> }
        })
    }
}

/// A person in the online list: a button that starts a private message.
#[component]
fn Person(name: String, is_me: bool, on_pick: Callback<String>, i18n: I18n) -> impl IntoView {
    let data = name.clone();
    if is_me {
        return view! {
            <li data-user=data>
                <span class="user me">{Signal::derive(move || tf!(i18n.get_locale(), people.you, name = &name))}</span>
            </li>
        }
        .into_any();
    }
    let label = {
        let name = name.clone();
        Signal::derive(move || tf!(i18n.get_locale(), people.pm, name = &name))
    };
    let target = name.clone();
    let conversation = RoomName::direct_page_path(&name);
    let message_label = {
        let name = name.clone();
        Signal::derive(move || tf!(i18n.get_locale(), people.message_label, name = &name))
    };
    view! {
        <li data-user=data>
            <button type="button" class="user" title=label aria-label=label
                on:click=move |_| on_pick.run(target.clone())>
                {name}
            </button>
            <a class="message" href=conversation title=message_label aria-label=message_label>
                {tr!(i18n, people.message)}
            </a>
        </li>
    }
    .into_any()
}
