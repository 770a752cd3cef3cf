//! The app's pages, one module each.

mod account;
mod admin;
mod lobby;
mod room;

pub use account::{LoginPage, RegisterPage};
pub use admin::AdminPage;
pub use lobby::LobbyPage;
pub use room::RoomPage;

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Chat" />
        <main class="page narrow">
            <h1>"Page not found"</h1>
            <p>
                <a href="/chat/">"Go to the lobby"</a>
                " to pick a room."
            </p>
        </main>
    }
}
