//! `/login` and `/register`: plain HTML forms posting to the account API,
//! so they work before the WASM loads (or without it). A refusal comes back
//! as `?error=<code>` and is shown above the form; `?next=` says where to go
//! afterwards.

use crate::account::{AuthError, PASSWORD_MIN_CHARS};
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
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).unwrap_or_default();
    let error = move || AuthError::from_code(&param("error")).map(AuthError::message);
    let next = move || {
        let next = param("next");
        if next.starts_with('/') && !next.starts_with("//") {
            next
        } else {
            "/chat/".to_owned()
        }
    };
    let (title, action, button, password_autocomplete) = match kind {
        Kind::Login => ("Log in", "/api/login", "Log in", "current-password"),
        Kind::Register => (
            "Create an account",
            "/api/register",
            "Register",
            "new-password",
        ),
    };
    let other = move || {
        match kind {
        Kind::Login => view! {
            "No account yet? "
            <a href=format!("/register?next={}", crate::names::percent_encode(&next()))>"Register"</a>
        }
        .into_any(),
        Kind::Register => view! {
            "Already have an account? "
            <a href=format!("/login?next={}", crate::names::percent_encode(&next()))>"Log in"</a>
        }
        .into_any(),
    }
    };
    view! {
        <Title text=format!("{title} · Chat") />
        <main class="page narrow">
            <h1>{title}</h1>
            <form class="account-form" method="post" action=action>
                <input type="hidden" name="next" value=next />
                <p id="form-error" class="form-error" role="alert">{error}</p>
                <label for="username">"Username"</label>
                <input
                    id="username"
                    name="username"
                    type="text"
                    autocomplete="username"
                    autocapitalize="none"
                    spellcheck="false"
                    required
                    autofocus
                    minlength="3"
                    maxlength="32"
                    value=move || param("username")
                    aria-describedby="form-error"
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete=password_autocomplete
                    required
                    minlength=PASSWORD_MIN_CHARS.to_string()
                    maxlength="256"
                />
                {(kind == Kind::Register).then(|| view! {
                    <p class="hint">
                        "3–32 letters, digits, _, - or . for the username; at least "
                        {PASSWORD_MIN_CHARS}
                        " characters for the password."
                    </p>
                })}
                <button type="submit">{button}</button>
            </form>
            <p class="switch">{other}</p>
        </main>
    }
}
