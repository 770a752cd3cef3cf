//! `/chat/`: the lobby, where a person types a room name and goes there.

use crate::names::RoomName;
use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn LobbyPage() -> impl IntoView {
    let input = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();

    // `autofocus` covers the first load; this covers arriving by client-side navigation.
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some(field) = input.get() else { return };
        match RoomName::parse(field.value().trim()) {
            Ok(room) => navigate(&room.page_path(), Default::default()),
            Err(e) => {
                error.set(Some(e.to_string()));
                let _ = field.focus();
            }
        }
    };

    view! {
        <Title text="Lobby · Chat" />
        <main class="page narrow lobby">
            <h1 id="lobby-title">"What chat room would you like to enter?"</h1>
            <form class="room-picker" on:submit=on_submit aria-labelledby="lobby-title">
                <label for="room-name" class="visually-hidden">
                    "Room name"
                </label>
                <input
                    id="room-name"
                    node_ref=input
                    type="text"
                    name="room"
                    autofocus
                    autocomplete="off"
                    spellcheck="false"
                    placeholder="lobby"
                    maxlength="64"
                    aria-invalid=move || error.with(|e| e.is_some()).to_string()
                    aria-describedby="room-hint room-error"
                    on:input=move |_| error.set(None)
                />
                <button type="submit">"Enter"</button>
            </form>
            <p id="room-hint" class="hint">
                "Letters, digits, _, - and . (any language), up to 64 characters."
            </p>
            <p id="room-error" class="form-error" role="alert">
                {move || error.get()}
            </p>
        </main>
    }
}
