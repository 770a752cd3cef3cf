//! The room page's state: one `Copy` struct of signals, made once by
//! `ChatRoom` and shared with the child components through context. Every
//! server event goes through [`RoomState::apply`], one method per event.
//! Each concern keeps its own part with its own methods: the log's rules
//! in [`RoomLog`], scrolling in [`Scroll`], what arrived unseen in
//! [`Unread`], the composer's box, edit and waits in [`Draft`], who types
//! in [`WhoTypes`], posts on their way in [`Sending`] (`sending.rs`),
//! the read marker in [`Reading`] (`reading.rs`);
//! this file routes events to them and talks to the socket.

use super::{
    connection::Connection,
    draft::{Draft, Notice},
    log::{Entry, RoomLog},
    reading::Reading,
    rich::mentions_name,
    scroll::Scroll,
    sending::Sending,
    typing::WhoTypes,
    unread::Unread,
};
use crate::{
    ConnStatus, CurrentUser,
    browser::notify,
    lang::{I18n, error_text, session_ended_text, td_string, tf, use_i18n},
    names::RoomName,
    protocol::ServerEvent,
    protocol::{
        ChatMessage, ClientFrame, ErrorCode, ErrorEvent, HISTORY_MAX, HISTORY_PAGE, History,
    },
};
use leptos::prelude::*;
/// How long a hole in the log may wait for its message before the page
/// asks the server for it (messages can overtake each other on the way).
/// Longer than the server's own wait, which fills most holes first.
const ASK_FOR_HOLE_AFTER: std::time::Duration = std::time::Duration::from_millis(600);
#[derive(Clone, Copy)]
pub struct RoomState {
    pub me: CurrentUser,
    /// The page's language, for texts made outside a component (titles,
    /// notices, notifications).
    pub i18n: I18n,
    pub room: StoredValue<RoomName>,
    /// In a direct conversation, the other person.
    pub peer: StoredValue<Option<String>>,
    pub log: RwSignal<RoomLog>,
    /// Signed-in people in the room, sorted: all of them, or in a big
    /// room some of them.
    pub users: RwSignal<Vec<String>>,
    /// How many people are in the room.
    pub online: RwSignal<usize>,
    pub typing: WhoTypes,
    pub status: RwSignal<ConnStatus>,
    /// Set when the socket drops; the catch-up after reconnecting counts the
    /// messages it brings until the user list marks its end.
    recovering: StoredValue<Option<usize>>,
    connection: StoredValue<Option<Connection>>,
    pub scroll: Scroll,
    pub unread: Unread,
    pub draft: Draft,
    pub sending: Sending,
    pub reading: Reading,
}

impl RoomState {
    pub fn new(me: CurrentUser, room: RoomName, peer: Option<String>) -> Self {
        Self {
            me,
            i18n: use_i18n(),
            room: StoredValue::new(room),
            peer: StoredValue::new(peer),
            log: RwSignal::new(RoomLog::default()),
            users: RwSignal::new(Vec::new()),
            online: RwSignal::new(0),
            typing: WhoTypes::new(),
            status: RwSignal::new(ConnStatus::Connecting),
            recovering: StoredValue::new(None),
            connection: StoredValue::new(None),
            scroll: Scroll::new(),
            unread: Unread::new(),
            draft: Draft::new(),
            sending: Sending::new(),
            reading: Reading::new(),
        }
    }

    /// The tab title: "(3) general · Chat" while messages wait unseen.
    /// `None` once this page's state is disposed: server rendering may
    /// build a room's view twice (a Suspense running again) and
    /// leptos_meta still asks the discarded one's `<Title>` for its text.
    pub fn title(self) -> Option<String> {
        if self.log.is_disposed() {
            return None;
        }
        let room = self.label();
        let locale = self.i18n.get_locale();
        let unread = match self.unread_by_marker() {
            Some(n) => n as usize,
            None => self.unread.count.get(),
        };
        Some(match unread {
            0 => crate::lang::page_title(locale, &room),
            n => tf!(locale, room.unread_title, n = n, room = room),
        })
    }

    /// What people call this room: its name, or in a direct conversation
    /// the other person's.
    pub fn label(self) -> String {
        match self.peer.get_value() {
            Some(peer) => peer,
            None => self.room.get_value().to_string(),
        }
    }

    /// A private message to this person. In its own conversation's page it
    /// is in the log already (as the room's message): only notified.
    fn on_private(self, user: String, message: String, room: Option<RoomName>) {
        let title = tf!(
            self.i18n.get_locale_untracked(),
            alerts.pm_from,
            user = &user
        );
        notify(&title, &message, &format!("pm:{user}"));
        if room.is_some_and(|r| r == self.room.get_value()) {
            return;
        }
        self.unread.pm_arrived();
        self.log.update(|l| l.add_private(true, user, message));
    }

    pub fn set_connection(self, connection: Connection) {
        self.connection.set_value(Some(connection));
    }

    /// Sends a frame to the room's server.
    pub fn send(self, frame: ClientFrame) {
        if let Some(connection) = self.connection.get_value() {
            connection.send(frame.to_json());
        }
    }

    /// Sends a post of the outbox on the socket open now (dropped if it
    /// dies first: the outbox sends it again, in order, on the next one).
    pub fn send_on_this_session(self, frame: ClientFrame) {
        if let Some(connection) = self.connection.get_value() {
            connection.send_on_this_session(frame.to_json());
        }
    }

    /// The room's newest messages as its page came with them (rendered by
    /// the server): the log starts from them, and the socket, asked to
    /// resume after them, brings only what is newer.
    pub fn seed(self, page: History) {
        self.scroll.older_available.set(page.has_more);
        self.log.update(|log| {
            for m in page.messages {
                log.insert(Entry::Chat(m));
            }
        });
    }

    /// Where a reconnect resumes: after the contiguous part of the log.
    pub fn resume_from(self) -> Option<u64> {
        self.log.with_untracked(RoomLog::contiguous_up_to)
    }

    /// Whether this page is the direct conversation with `name`.
    pub fn is_conversation_with(self, name: &str) -> bool {
        self.peer.get_value().as_deref() == Some(name)
    }

    /// Whether the viewer is the person called `name`.
    pub fn is_me(self, name: &str) -> bool {
        self.me.name_untracked().as_deref() == Some(name)
    }

    /// One event from the server.
    pub fn apply(self, event: ServerEvent) {
        match event {
            ServerEvent::ChatMessage(m) => self.on_message(m),
            ServerEvent::History(page) => self.on_history(page),
            ServerEvent::UserList { users, online } => self.on_user_list(users, online),
            ServerEvent::UserJoin { user, online } => {
                self.users.update(|list| {
                    if let Err(at) = list.binary_search(&user) {
                        list.insert(at, user);
                    }
                });
                self.online
                    .set(online.max(self.users.with_untracked(Vec::len)));
            }
            ServerEvent::UserLeave { user, online } => {
                self.typing.stop(&user);
                self.users.update(|list| list.retain(|u| *u != user));
                self.online
                    .set(online.max(self.users.with_untracked(Vec::len)));
            }
            ServerEvent::UserCount { count } => self.online.set(count),
            ServerEvent::PrivateMessage {
                user,
                message,
                room,
                ..
            } => self.on_private(user, message, room),
            ServerEvent::PrivateMessageDelivered {
                target,
                message,
                client_id,
            } => {
                self.unread.pms_read();
                // One of the outbox's: shown when its `ack` says it is stored.
                if client_id.is_none() {
                    self.log.update(|l| l.add_private(false, target, message))
                }
            }
            ServerEvent::Typing { user } if !self.is_me(&user) => self.typing.signal(user),
            ServerEvent::Typing { .. } => {}
            ServerEvent::MessageEdited {
                seq,
                message,
                edited_at,
                client_id,
                ..
            } => {
                self.log.update(|l| l.edit(seq, message, edited_at));
                if let Some(id) = &client_id {
                    self.seen_own(id);
                }
            }
            ServerEvent::MessageDeleted { seq, .. } => self.log.update(|l| l.delete(seq)),
            ServerEvent::Reaction {
                seq, emoji, users, ..
            } => self.log.update(|l| l.react(seq, emoji, users)),
            ServerEvent::SessionEnded { reason, code } => self.draft.notice.set(Some(Notice {
                text: session_ended_text(self.i18n.get_locale_untracked(), code, &reason),
                login: false,
                keep_until: f64::INFINITY,
            })),
            ServerEvent::Error(e) => self.on_error(e),
            ServerEvent::Ack { client_id, seq } => self.on_ack(client_id, seq),
            ServerEvent::Read { room, seq } => self.on_read(room, seq),
            ServerEvent::Seen { room, user, seq } => self.on_seen(room, user, seq),
            // The sidebar counts mentions (from its own lobby feed); this
            // room's are highlighted and notified as they arrive.
            ServerEvent::Mention { .. } => {}
        }
    }

    fn on_message(self, m: ChatMessage) {
        self.typing.stop(&m.user);
        let newest = self.log.with_untracked(RoomLog::newest_seq);
        if newest > 0 && m.seq > newest + 1 {
            self.ask_for_hole_before(m.seq);
        }
        if self.is_me(&m.user) {
            if let Some(id) = &m.client_id {
                self.seen_own(id);
            }
        } else if m.seq > newest {
            self.unread.arrived(Some(m.seq));
            if let Some(me) = self.me.name_untracked()
                && mentions_name(&m.message, &me)
            {
                let room = self.label();
                let locale = self.i18n.get_locale_untracked();
                let title = tf!(locale, alerts.mentioned, user = &m.user, room = &room);
                notify(&title, &m.message, &format!("mention:{room}"));
            }
        }
        self.log.update(|log| log.insert(Entry::Chat(m)));
        self.report_reading();
    }

    fn on_history(self, page: History) {
        let oldest_shown = self.log.with_untracked(RoomLog::oldest_seq);
        let reaches_back = match (page.messages.first(), oldest_shown) {
            (Some(first), Some(oldest)) => first.seq < oldest,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if reaches_back {
            self.scroll.older_available.set(page.has_more);
            if oldest_shown.is_some() && !page.messages.is_empty() {
                self.scroll.before_prepend();
            }
        }
        self.scroll.loading_older.set(false);
        let before = self.log.with_untracked(RoomLog::len);
        for id in page.messages.iter().filter_map(|m| m.client_id.as_ref()) {
            self.seen_own(id);
        }
        self.log.update(|log| {
            for m in page.messages {
                log.insert(Entry::Chat(m));
            }
        });
        let added = self.log.with_untracked(RoomLog::len) - before;
        self.report_reading();
        self.recovering.update_value(|r| {
            if let Some(n) = r {
                *n += added;
            }
        });
    }

    fn on_user_list(self, mut list: Vec<String>, online: usize) {
        list.sort();
        list.dedup();
        self.online.set(online.max(list.len()));
        self.users.set(list);
        self.greeted();
        // The user list ends what the server sends on (re)connecting.
        if let Some(missed) = self.recovering.get_value() {
            self.recovering.set_value(None);
            self.status.set(ConnStatus::BackOnline(missed));
        }
    }

    fn on_error(self, e: ErrorEvent) {
        self.scroll.loading_older.set(false);
        let text = error_text(self.i18n.get_locale_untracked(), &e);
        let wait = super::sending::countdown_for(&e);
        if let Some(id) = e.client_id.clone() {
            self.on_refused(id, wait.is_some(), text.clone());
        }
        let notice = match e.code {
            ErrorCode::RateLimited => {
                if let Some(wait) = wait {
                    self.draft.wait(wait);
                }
                Notice::slow_down(text)
            }
            ErrorCode::NotAuthenticated => Notice {
                login: true,
                ..Notice::brief(text)
            },
            _ => Notice::brief(text),
        };
        self.draft.notice.set(Some(notice));
    }

    /// The socket's state changed.
    pub fn on_status(self, s: ConnStatus) {
        self.socket_open(s == ConnStatus::Live);
        if s == ConnStatus::Reconnecting {
            self.recovering.set_value(Some(0));
        }
        // While catching up, keep saying "reconnecting" until it is done.
        if !(s == ConnStatus::Live && self.recovering.get_value().is_some()) {
            self.status.set(s);
        }
    }

    /// Holds seqs just past a hole; asks the server for the hole if it lasts.
    fn ask_for_hole_before(self, seq: u64) {
        set_timeout(
            move || {
                let Some(before) = self.log.with_untracked(|l| l.newest_before(seq)) else {
                    return;
                };
                let missing = seq - before - 1;
                if missing > 0 {
                    self.send(ClientFrame::History {
                        before_seq: Some(seq),
                        limit: missing.min(u64::from(HISTORY_MAX)) as u32,
                    });
                }
            },
            ASK_FOR_HOLE_AFTER,
        );
    }

    /// Asks for the page before the oldest message shown, once at a time.
    fn load_older(self) {
        let scroll = self.scroll;
        if !scroll.older_available.get_untracked() || scroll.loading_older.get_untracked() {
            return;
        }
        let Some(oldest) = self.log.with_untracked(RoomLog::oldest_seq) else {
            return;
        };
        scroll.loading_older.set(true);
        self.send(ClientFrame::History {
            before_seq: Some(oldest),
            limit: HISTORY_PAGE,
        });
    }

    /// The reader scrolled the log; near the top, older messages load.
    pub fn on_scroll(self) {
        if self.scroll.on_scroll() {
            self.load_older();
        }
        self.report_reading();
    }

    /// What the top of the log says.
    pub fn log_top(self) -> &'static str {
        let locale = self.i18n.get_locale();
        if self.scroll.loading_older.get() {
            td_string!(locale, log.loading_older)
        } else if self.scroll.older_available.get() {
            td_string!(locale, log.scroll_up)
        } else if self.log.with(RoomLog::is_empty) {
            td_string!(locale, log.empty)
        } else {
            td_string!(locale, log.start)
        }
    }
}
