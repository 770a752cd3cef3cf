//! `/admin`: rooms (create, mark admin-only, delete with their messages),
//! users (make admin, disable), recent messages (delete) and the audit log
//! of every admin action. Each action is a plain HTML form posted to
//! `POST /api/admin`, answered with a redirect back here, so the page works
//! before (or without) the WASM. Anyone but an admin gets a 403 page.

use crate::{
    admin::{AdminOverview, AdminRoom, AdminUser, AuditLine},
    protocol::ChatMessage,
    server_fns::admin_lists,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = Resource::new_blocking(|| (), |_| admin_lists());
    let query = use_query_map();
    let error = move || query.read().get("error");
    view! {
        <Title text="Admin · Chat" />
        <main class="page admin">
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(Some(data)) => view! {
                            <h1>"Admin"</h1>
                            <p id="admin-error" class="form-error" role="alert">{error}</p>
                            <Overview data />
                        }.into_any(),
                        Ok(None) => view! {
                            <h1>"Admins only"</h1>
                            <p class="form-error">"This page is for admins. "
                                <a href="/login?next=/admin">"Log in as an admin"</a>
                                " or go back to "<a href="/chat/">"the lobby"</a>"."
                            </p>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

/// One admin action as a one-button form.
#[component]
fn ActionButton(
    action: &'static str,
    label: String,
    #[prop(optional, into)] room: String,
    #[prop(optional, into)] username: String,
    #[prop(optional)] seq: Option<u64>,
    #[prop(optional)] value: bool,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    view! {
        <form method="post" action="/api/admin" class="inline">
            <input type="hidden" name="action" value=action />
            <input type="hidden" name="room" value=room />
            <input type="hidden" name="username" value=username />
            <input type="hidden" name="seq" value=seq.map(|s| s.to_string()).unwrap_or_default() />
            <input type="hidden" name="value" value=value.to_string() />
            <button type="submit" class:danger=danger>{label}</button>
        </form>
    }
    .into_any()
}

/// The four lists, each its own component (and each erased, so the page's
/// view type stays shallow enough for release builds).
#[component]
fn Overview(data: AdminOverview) -> impl IntoView {
    view! {
        <RoomsSection rooms=data.rooms />
        <UsersSection users=data.users />
        <MessagesSection messages=data.messages />
        <AuditSection audit=data.audit />
    }
}

#[component]
fn RoomsSection(rooms: Vec<AdminRoom>) -> impl IntoView {
    let rooms = rooms.into_iter().map(|r| {
        let toggle = if r.admin_only { "Open to everyone" } else { "Make admin-only" };
        let name = r.name.clone();
        view! {
            <tr data-room=name>
                <td><a href=format!("/chat/{}/", crate::names::percent_encode(&r.name))>{r.name.clone()}</a></td>
                <td>{r.admin_only.then_some("admin-only")}</td>
                <td>{r.last_message_at.unwrap_or_default()}</td>
                <td><div class="row-actions">
                    <ActionButton action="set_room_admin_only" label=toggle.into() room=r.name.clone() value=!r.admin_only />
                    <ActionButton action="delete_room" label=format!("Delete {}", r.name) room=r.name danger=true />
                </div></td>
            </tr>
        }
    }).collect_view();
    view! {
        <section aria-labelledby="rooms-title">
            <h2 id="rooms-title">"Rooms"</h2>
            <form method="post" action="/api/admin" class="create-room">
                <input type="hidden" name="action" value="create_room" />
                <label for="new-room">"New room"</label>
                <input id="new-room" name="room" required maxlength="64" autocomplete="off" />
                <label class="check"><input type="checkbox" name="value" value="true" />" admin-only"</label>
                <button type="submit">"Create"</button>
            </form>
            <table id="admin-rooms">
                <thead><tr><th>"Room"</th><th>"Access"</th><th>"Last message"</th><th>"Actions"</th></tr></thead>
                <tbody>{rooms}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn UsersSection(users: Vec<AdminUser>) -> impl IntoView {
    let users = users.into_iter().map(|u| {
        let admin_label = if u.is_admin { format!("Remove admin from {}", u.username) } else { format!("Make {} admin", u.username) };
        let disable_label = if u.disabled { format!("Enable {}", u.username) } else { format!("Disable {}", u.username) };
        let name = u.username.clone();
        view! {
            <tr data-user=name>
                <td>{u.username.clone()}</td>
                <td>{u.is_admin.then_some("admin")} " " {u.disabled.then_some("disabled")}</td>
                <td><div class="row-actions">
                    <ActionButton action="set_admin" label=admin_label username=u.username.clone() value=!u.is_admin />
                    <ActionButton action="disable_user" label=disable_label username=u.username value=!u.disabled danger=!u.disabled />
                </div></td>
            </tr>
        }
    }).collect_view();
    view! {
        <section aria-labelledby="users-title">
            <h2 id="users-title">"Users"</h2>
            <table id="admin-users">
                <thead><tr><th>"User"</th><th>"Status"</th><th>"Actions"</th></tr></thead>
                <tbody>{users}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn MessagesSection(messages: Vec<ChatMessage>) -> impl IntoView {
    let messages = messages.into_iter().map(|m| view! {
        <tr data-seq=m.seq>
            <td>{m.room.to_string()} " #" {m.seq}</td>
            <td>{m.user}</td>
            <td class="message-text">{m.message}</td>
            <td><div class="row-actions">
                <ActionButton action="delete_message" label="Delete".into() room=m.room.to_string() seq=m.seq danger=true />
            </div></td>
        </tr>
    }).collect_view();
    view! {
        <section aria-labelledby="messages-title">
            <h2 id="messages-title">"Recent messages"</h2>
            <table id="admin-messages">
                <thead><tr><th>"Where"</th><th>"From"</th><th>"Message"</th><th>"Actions"</th></tr></thead>
                <tbody>{messages}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn AuditSection(audit: Vec<AuditLine>) -> impl IntoView {
    let audit = audit
        .into_iter()
        .map(|a| {
            view! {
                <tr>
                    <td><time datetime=a.at.clone()>{a.at.clone()}</time></td>
                    <td>{a.actor}</td>
                    <td>{a.action}</td>
                    <td>{a.target}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="audit-title">
            <h2 id="audit-title">"Audit log"</h2>
            <table id="admin-audit">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"Did"</th><th>"To"</th></tr></thead>
                <tbody>{audit}</tbody>
            </table>
        </section>
    }
    .into_any()
}
