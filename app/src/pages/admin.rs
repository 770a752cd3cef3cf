//! `/admin`: rooms (create, mark admin-only, delete with their messages),
//! users (make admin, disable), recent messages (delete) and the audit log
//! of every admin action. Each action is a plain HTML form posted to
//! `POST /api/admin`, answered with a redirect back here, so the page works
//! before (or without) the WASM. Anyone but an admin gets a 403 page.

use crate::{
    admin::{AdminOverview, AdminRoom, AdminUser, AuditLine},
    lang::{audit_text, page_title, t, t_string, tf, tr, use_i18n},
    names::ROOM_NAME_MAX_CHARS,
    protocol::ChatMessage,
    server_fns::admin_lists,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminPage() -> impl IntoView {
    let i18n = use_i18n();
    let overview = Resource::new_blocking(|| (), |_| admin_lists());
    let query = use_query_map();
    let error = move || query.read().get("error");
    view! {
        <Title text=move || page_title(i18n.get_locale(), t_string!(i18n, admin.title)) />
        <main class="page admin">
            <Suspense fallback=move || view! { <p>{tr!(i18n, loading)}</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(Some(data)) => view! {
                            <h1>{tr!(i18n, admin.heading)}</h1>
                            <p id="admin-error" class="form-error" role="alert">{error}</p>
                            <Overview data />
                        }.into_any(),
                        Ok(None) => view! {
                            <h1>{tr!(i18n, admin.only_heading)}</h1>
                            <p class="form-error">
                                {t!(i18n, admin.only_body,
                                    <login> = |children: ChildrenFn| view! { <a href="/login?next=/admin">{children()}</a> },
                                    <lobby> = |children: ChildrenFn| view! { <a href="/chat/">{children()}</a> })}
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
    #[prop(into)] label: Signal<String>,
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
    let i18n = use_i18n();
    let rooms = rooms.into_iter().map(|r| {
        let admin_only = r.admin_only;
        let toggle = Signal::derive(move || if admin_only {
            t_string!(i18n, admin.open_to_all).to_owned()
        } else {
            t_string!(i18n, admin.make_admin_only).to_owned()
        });
        let room = r.name.clone();
        let delete = Signal::derive(move || tf!(i18n.get_locale(), admin.delete_room, room = &room));
        let name = r.name.clone();
        view! {
            <tr data-room=name>
                <td><a href=format!("/chat/{}/", crate::names::percent_encode(&r.name))>{r.name.clone()}</a></td>
                <td>{r.admin_only.then_some(tr!(i18n, admin.admin_only))}</td>
                <td>{r.last_message_at.unwrap_or_default()}</td>
                <td><div class="row-actions">
                    <ActionButton action="set_room_admin_only" label=toggle room=r.name.clone() value=!r.admin_only />
                    <ActionButton action="delete_room" label=delete room=r.name danger=true />
                </div></td>
            </tr>
        }
    }).collect_view();
    view! {
        <section aria-labelledby="rooms-title">
            <h2 id="rooms-title">{tr!(i18n, admin.rooms)}</h2>
            <form method="post" action="/api/admin" class="create-room">
                <input type="hidden" name="action" value="create_room" />
                <label for="new-room">{tr!(i18n, admin.new_room)}</label>
                <input id="new-room" name="room" required maxlength=ROOM_NAME_MAX_CHARS.to_string() autocomplete="off" />
                <label class="check">
                    <input type="checkbox" name="value" value="true" />" " {tr!(i18n, admin.admin_only_check)}
                </label>
                <button type="submit">{tr!(i18n, admin.create)}</button>
            </form>
            <table id="admin-rooms">
                <thead><tr>
                    <th>{tr!(i18n, admin.room)}</th><th>{tr!(i18n, admin.access)}</th>
                    <th>{tr!(i18n, admin.last_message)}</th><th>{tr!(i18n, admin.actions)}</th>
                </tr></thead>
                <tbody>{rooms}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn UsersSection(users: Vec<AdminUser>) -> impl IntoView {
    let i18n = use_i18n();
    let users = users.into_iter().map(|u| {
        let (is_admin, disabled, user) = (u.is_admin, u.disabled, u.username.clone());
        let admin_label = Signal::derive(move || {
            let (locale, user) = (i18n.get_locale(), &user);
            if is_admin { tf!(locale, admin.remove_admin, user = user) } else { tf!(locale, admin.make_admin, user = user) }
        });
        let user = u.username.clone();
        let disable_label = Signal::derive(move || {
            let (locale, user) = (i18n.get_locale(), &user);
            if disabled { tf!(locale, admin.enable, user = user) } else { tf!(locale, admin.disable, user = user) }
        });
        let name = u.username.clone();
        view! {
            <tr data-user=name>
                <td>{u.username.clone()}</td>
                <td>{u.is_admin.then_some(tr!(i18n, admin.is_admin))} " " {u.disabled.then_some(tr!(i18n, admin.is_disabled))}</td>
                <td><div class="row-actions">
                    <ActionButton action="set_admin" label=admin_label username=u.username.clone() value=!u.is_admin />
                    <ActionButton action="disable_user" label=disable_label username=u.username value=!u.disabled danger=!u.disabled />
                </div></td>
            </tr>
        }
    }).collect_view();
    view! {
        <section aria-labelledby="users-title">
            <h2 id="users-title">{tr!(i18n, admin.users)}</h2>
            <table id="admin-users">
                <thead><tr>
                    <th>{tr!(i18n, admin.user)}</th><th>{tr!(i18n, admin.status)}</th><th>{tr!(i18n, admin.actions)}</th>
                </tr></thead>
                <tbody>{users}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn MessagesSection(messages: Vec<ChatMessage>) -> impl IntoView {
    let i18n = use_i18n();
    let delete = Signal::derive(tr!(i18n, admin.delete).to_owned());
    let messages = messages.into_iter().map(|m| view! {
        <tr data-seq=m.seq>
            <td>{m.room.to_string()} " #" {m.seq}</td>
            <td>{m.user}</td>
            <td class="message-text">{m.message}</td>
            <td><div class="row-actions">
                <ActionButton action="delete_message" label=delete room=m.room.to_string() seq=m.seq danger=true />
            </div></td>
        </tr>
    }).collect_view();
    view! {
        <section aria-labelledby="messages-title">
            <h2 id="messages-title">{tr!(i18n, admin.messages)}</h2>
            <table id="admin-messages">
                <thead><tr>
                    <th>{tr!(i18n, admin.place)}</th><th>{tr!(i18n, admin.from)}</th>
                    <th>{tr!(i18n, admin.message)}</th><th>{tr!(i18n, admin.actions)}</th>
                </tr></thead>
                <tbody>{messages}</tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn AuditSection(audit: Vec<AuditLine>) -> impl IntoView {
    let i18n = use_i18n();
    let audit = audit
        .into_iter()
        .map(|a| {
            view! {
                <tr>
                    <td><time datetime=a.at.clone()>{a.at.clone()}</time></td>
                    <td>{Signal::derive(move || audit_text(i18n.get_locale(), &a.actor))}</td>
                    <td>{Signal::derive(move || audit_text(i18n.get_locale(), &a.action))}</td>
                    <td>{a.target}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="audit-title">
            <h2 id="audit-title">{tr!(i18n, admin.audit)}</h2>
            <table id="admin-audit">
                <thead><tr>
                    <th>{tr!(i18n, admin.when)}</th><th>{tr!(i18n, admin.who)}</th>
                    <th>{tr!(i18n, admin.did)}</th><th>{tr!(i18n, admin.to)}</th>
                </tr></thead>
                <tbody>{audit}</tbody>
            </table>
        </section>
    }
    .into_any()
}
