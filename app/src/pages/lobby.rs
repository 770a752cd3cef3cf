//! `/chat/`: the lobby, where a person types a room name and goes there,
//! or picks one of the active rooms. The list refreshes itself every few
//! seconds (polling a server function; the server renders the first list).

use crate::{names::RoomName, server_fns::list_rooms};
use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use std::time::Duration;

/// How often the room list refreshes.
const REFRESH: Duration = Duration::from_secs(3);

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
            <ActiveRooms />
        </main>
    }
}

/// Rooms worth listing: someone is there or has ever spoken, busiest first.
const LISTED: usize = 30;

fn active(rooms: Vec<crate::server_fns::RoomSummary>) -> Vec<crate::server_fns::RoomSummary> {
    rooms
        .into_iter()
        .filter(|r| r.online > 0 || r.last_message_at.is_some())
        .take(LISTED)
        .collect()
}

#[component]
fn ActiveRooms() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let rooms = Resource::new(move || tick.get(), |_| list_rooms());
    // Browser only: a timer that lives as long as the lobby does.
    Effect::new(move |_| {
        if let Ok(timer) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
            on_cleanup(move || timer.clear());
        }
    });
    view! {
        <section class="rooms" aria-labelledby="rooms-title">
            <h2 id="rooms-title">"Active rooms"</h2>
            <Transition fallback=|| view! { <p class="hint">"Loading rooms…"</p> }>
                {move || rooms.get().map(|result| match result.map(active) {
                    Ok(list) if list.is_empty() => view! {
                        <p class="hint">"No rooms yet: name one above to start it."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul id="room-list" class="room-list">
                            {list.into_iter().map(|r| view! {
                                <li data-room=r.name.to_string()>
                                    <a href=r.name.page_path()>{r.name.to_string()}</a>
                                    <span class="online" class:some={r.online > 0}>
                                        {format!("{} online", r.online)}
                                    </span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(_) => view! {
                        <p class="hint">"The room list is unavailable right now."</p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
