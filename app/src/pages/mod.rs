//! The app's pages, one module each, and what two of them share: the
//! signed-in person's own rooms and conversations ([`mine`]).

mod account;
mod admin;
mod badge;
mod lobby;
mod mine;
mod room;
/// The `@name` rule, shared with the server (it notes mentions).
pub use room::rich::mentioned;

pub use account::{LoginPage, RegisterPage};
pub use admin::AdminPage;
pub use lobby::LobbyPage;
pub use room::{DirectPage, RoomPage};

use crate::lang::{page_title, t, t_string, tr, use_i18n};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let i18n = use_i18n();
    view! {
        <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, not_found.title)) />
        <main class="page narrow">
            <h1>{tr!(i18n, not_found.heading)}</h1>
            <p>
                {t!(i18n, not_found.body, <a> = |children: ChildrenFn| view! { <a href="/chat/">{children()}</a> })}
            </p>
        </main>
    }
}
