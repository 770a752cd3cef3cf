//! `/chat/<room>/`: the live log, the message box, who is online and the
//! connection status. `ChatRoom` makes the page's [`RoomState`], connects
//! the socket to it, shares it through context and lays out the children,
//! each in its own file:
//!
//! - [`log`]: the log as a plain type ([`log::RoomLog`]) with its unit tests;
//! - [`state`]: [`RoomState`], one method per server event;
//! - [`message`]: the list, one message, its reactions and toolbar;
//! - [`composer`]: the message box and the notice line;
//! - [`rich`]: a message's text as text, links and mentions;
//! - [`people`]: who is online; [`typing`]: who is typing;
//! - [`connection`]: the socket (browser) or nothing (server), and the
//!   status indicator;
//! - [`alerts`]: what reaches a person not looking: the unread PM badge,
//!   "Notify me", and the page's hidden/shown signal.

mod alerts;
mod composer;
mod connection;
mod log;
mod message;
mod people;
mod rich;
mod state;
mod typing;

use crate::{
    CurrentUser,
    names::RoomName,
    server_fns::{Entry, may_enter},
};
use alerts::{NotifyButton, PmBadge};
use composer::Composer;
use connection::{ConnectionStatus, connect};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use message::Messages;
use people::People;
use state::RoomState;
use typing::Typing;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    let room = Memo::new(move |_| RoomName::parse(&params.read().get("room").unwrap_or_default()));
    // Keyed on the room: moving to another room builds a fresh page (and socket).
    move || match room.get() {
        Ok(room) => view! { <AllowedRoom room /> }.into_any(),
        Err(e) => view! {
            <Title text="Invalid room · Chat" />
            <main class="page narrow">
                <h1>"That is not a room name"</h1>
                <p class="form-error">{e.to_string()}</p>
                <p>
                    <a href="/chat/">"Back to the lobby"</a>
                </p>
            </main>
        }
        .into_any(),
    }
}

/// The room, or a refusal (HTTP 403) if it is for admins only and the
/// visitor is not one.
#[component]
fn AllowedRoom(room: RoomName) -> impl IntoView {
    let asked = room.clone();
    let access = Resource::new_blocking(move || asked.clone(), may_enter);
    view! {
        <Suspense fallback=|| view! { <main class="page room"></main> }>
            {move || {
                let room = room.clone();
                Suspend::new(async move {
                match access.await {
                    Ok(Entry::Open) => view! { <ChatRoom room /> }.into_any(),
                    Ok(Entry::LooksLike(like)) => view! {
                        <Title text="Lookalike room · Chat" />
                        <main class="page narrow">
                            <h1>"This name looks like another room"</h1>
                            <p class="form-error">{format!("“{room}” looks just like the room “{like}” (only letters that look alike differ), so it cannot be a room of its own.")}</p>
                            <p><a href=like.page_path()>{format!("Go to {like}")}</a></p>
                            <p><a href="/chat/">"Back to the lobby"</a></p>
                        </main>
                    }.into_any(),
                    Ok(Entry::AdminsOnly) => view! {
                        <Title text="Admins only · Chat" />
                        <main class="page narrow">
                            <h1>"This room is for admins only"</h1>
                            <p class="form-error">{format!("{room} is open to admins only. Ask an admin if you need to be in it.")}</p>
                            <p><a href="/chat/">"Back to the lobby"</a></p>
                        </main>
                    }.into_any(),
                    Err(e) => view! {
                        <main class="page narrow">
                            <h1>"The room cannot be opened right now"</h1>
                            <p class="form-error">{e.to_string()}</p>
                        </main>
                    }.into_any(),
                }
            })}}
        </Suspense>
    }
}

#[component]
fn ChatRoom(room: RoomName) -> impl IntoView {
    let state = RoomState::new(expect_context::<CurrentUser>(), room.clone());
    let socket = connect(
        &room,
        move || state.resume_from(),
        move |event| state.apply(event),
        move |status| state.on_status(status),
    );
    state.set_connection(socket);
    provide_context(state);
    alerts::follow_visibility(state);
    view! {
        <Title text=move || state.title() />
        <main class="page room">
            <div class="room-head">
                <a class="back" href="/chat/" aria-label="Back to the lobby">
                    "←"
                </a>
                <h1 class="room-title">{room.to_string()}</h1>
                <PmBadge />
                <NotifyButton />
                <ConnectionStatus />
            </div>
            <div class="room-body">
                <section class="conversation" aria-label="Conversation">
                    <Messages />
                    <Typing />
                    <Composer room />
                </section>
                <People />
            </div>
        </main>
    }
}
