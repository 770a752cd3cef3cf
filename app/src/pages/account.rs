//! `/login` and `/register`: plain HTML forms posting to the account API,
//! so they work before the WASM loads (or without it). A refusal comes back
//! as `?error=<code>` and is shown above the form; `?next=` says where to go
//! afterwards.

use crate::{
    account::{AuthError, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, safe_next},
    lang::{auth_error_text, page_title, t_string, tf, tr, use_i18n},
    names::{USERNAME_MAX_CHARS, USERNAME_MIN_CHARS},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    view! { <AccountForm kind=Kind::Login /> }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    view! { <AccountForm kind=Kind::Register /> }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Register,
}

#[component]
fn AccountForm(kind: Kind) -> impl IntoView {
    let i18n = use_i18n();
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).unwrap_or_default();
    let error = move || {
        AuthError::from_code(&param("error")).map(|e| auth_error_text(i18n.get_locale(), e))
    };
    let next = move || safe_next(Some(&param("next")));
    let (action, password_autocomplete) = match kind {
        Kind::Login => ("/api/login", "current-password"),
        Kind::Register => ("/api/register", "new-password"),
    };
    let title = move || match kind {
        Kind::Login => t_string!(i18n, account.log_in_title),
        Kind::Register => t_string!(i18n, account.register_title),
    };
    let button = move || match kind {
        Kind::Login => t_string!(i18n, account.log_in_button),
        Kind::Register => t_string!(i18n, account.register_button),
    };
    let other = move || match kind {
        Kind::Login => view! {
            {tr!(i18n, account.no_account)} " "
            <a href=format!("/register?next={}", crate::names::percent_encode(&next()))>
                {tr!(i18n, nav.register)}
            </a>
        }
        .into_any(),
        Kind::Register => view! {
            {tr!(i18n, account.have_account)} " "
            <a href=format!("/login?next={}", crate::names::percent_encode(&next()))>
                {tr!(i18n, nav.log_in)}
            </a>
        }
        .into_any(),
    };
    view! {
        <Title text=move || page_title(i18n.get_locale(), title()) />
        <main class="page narrow">
            <h1>{title}</h1>
            <form class="account-form" method="post" action=action>
                <input type="hidden" name="next" value=next />
                <p id="form-error" class="form-error" role="alert">{error}</p>
                <label for="username">{tr!(i18n, account.username)}</label>
                <input
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    autofocus
                    minlength=USERNAME_MIN_CHARS.to_string()
                    maxlength=USERNAME_MAX_CHARS.to_string()
                    value=move || param("username")
                    aria-describedby="form-error"
                />
                <label for="password">{tr!(i18n, account.password)}</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete=password_autocomplete
                    required
                    minlength=PASSWORD_MIN_CHARS.to_string()
                    maxlength=PASSWORD_MAX_CHARS.to_string()
                />
                {(kind == Kind::Register).then(|| view! {
                    <p class="hint">
                        {Signal::derive(move || tf!(i18n.get_locale(), account.hint, min = PASSWORD_MIN_CHARS))}
                    </p>
                })}
                <button type="submit">{button}</button>
            </form>
            <p class="switch">{other}</p>
        </main>
    }
}
