//! The room page's state: one `Copy` struct of signals, made once by
//! `ChatRoom` and shared with the child components through context. Every
//! server event goes through [`RoomState::apply`], one method per event;
//! the log's own rules live in [`RoomLog`], so this file is only about what
//! the page shows and sends.

use super::{
    connection::Connection,
    log::{Entry, RoomLog},
    rich::mentions_name,
    typing::WhoTypes,
};
use crate::{
    ConnStatus, CurrentUser,
    browser::{notify, now_ms, page_hidden},
    lang::{I18n, error_text, session_ended_text, td_string, tf, use_i18n},
    names::RoomName,
    protocol::ServerEvent,
    protocol::{
        ChatMessage, ClientFrame, ErrorCode, ErrorEvent, HISTORY_MAX, HISTORY_PAGE, History,
    },
};
use leptos::{html, prelude::*};

/// How close to the bottom (px) still counts as "reading the newest", so
/// new messages keep the log scrolled down.
const STICK_TO_BOTTOM_PX: i32 = 48;
/// How close to the top (px) starts loading older messages.
const LOAD_OLDER_PX: i32 = 80;
/// How long a hole in the log may wait for its message before the page
/// asks the server for it (messages can overtake each other on the way).
/// Longer than the server's own wait, which fills most holes first.
const ASK_FOR_HOLE_AFTER: std::time::Duration = std::time::Duration::from_millis(600);
/// How long a "slow down" notice stays up at least.
const SLOW_DOWN_SHOWN_MS: f64 = 3_000.0;

/// A refusal from the server (or the page), shown under the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    /// Offer the log-in link (the server said: log in to post).
    pub login: bool,
    /// Sending again does not clear it before this time (ms since the
    /// epoch): "slow down" must stay readable while someone keeps typing.
    pub keep_until: f64,
}

impl Notice {
    /// A notice that the next message sent clears.
    pub fn brief(text: String) -> Self {
        Self {
            text,
            login: false,
            keep_until: 0.0,
        }
    }
}

#[derive(Clone, Copy)]
pub struct RoomState {
    pub me: CurrentUser,
    /// The page's language, for texts made outside a component (titles,
    /// notices, notifications).
    pub i18n: I18n,
    pub room: StoredValue<RoomName>,
    pub log: RwSignal<RoomLog>,
    /// Signed-in people in the room, sorted.
    pub users: RwSignal<Vec<String>>,
    pub typing: WhoTypes,
    pub status: RwSignal<ConnStatus>,
    /// Set when the socket drops; the catch-up after reconnecting counts the
    /// messages it brings until the user list marks its end.
    recovering: StoredValue<Option<usize>>,
    pub notice: RwSignal<Option<Notice>>,
    /// The message being edited in the composer, if any.
    pub editing: RwSignal<Option<u64>>,
    /// Whether the server has older messages than the oldest shown, and
    /// whether a request for them is on its way.
    pub older_available: RwSignal<bool>,
    pub loading_older: RwSignal<bool>,
    /// The composer's text box.
    pub input: NodeRef<html::Input>,
    /// The scrolling log.
    pub log_view: NodeRef<html::Ol>,
    stick_to_bottom: StoredValue<bool>,
    /// Scroll height before older messages were put on top, to keep the view still.
    height_before_prepend: StoredValue<Option<i32>>,
    connection: StoredValue<Option<Connection>>,
    /// What arrived while the page was hidden: the tab title's count, and
    /// the first such message, where the "New messages" divider goes.
    pub unread: RwSignal<usize>,
    pub first_unread: RwSignal<Option<u64>>,
    /// Private messages that arrived while the page was hidden (the badge).
    pub unread_pms: RwSignal<usize>,
    /// The last chat message sent and not yet seen back: a `rate_limited`
    /// refusal puts it back in the box, to be sent when the wait is over.
    pub pending: StoredValue<Option<String>>,
    /// Until when (ms since the epoch) the server asked us to wait.
    pub wait_until: RwSignal<Option<f64>>,
}

impl RoomState {
    pub fn new(me: CurrentUser, room: RoomName) -> Self {
        Self {
            me,
            i18n: use_i18n(),
            room: StoredValue::new(room),
            log: RwSignal::new(RoomLog::default()),
            users: RwSignal::new(Vec::new()),
            typing: WhoTypes::new(),
            status: RwSignal::new(ConnStatus::Connecting),
            recovering: StoredValue::new(None),
            notice: RwSignal::new(None),
            editing: RwSignal::new(None),
            older_available: RwSignal::new(false),
            loading_older: RwSignal::new(false),
            input: NodeRef::new(),
            log_view: NodeRef::new(),
            stick_to_bottom: StoredValue::new(true),
            height_before_prepend: StoredValue::new(None),
            connection: StoredValue::new(None),
            unread: RwSignal::new(0),
            first_unread: RwSignal::new(None),
            unread_pms: RwSignal::new(0),
            pending: StoredValue::new(None),
            wait_until: RwSignal::new(None),
        }
    }

    /// The page was hidden or shown again. Hiding starts a new count (and
    /// moves the divider); showing clears the title's count but keeps the
    /// divider where the person left off.
    pub fn on_visibility(self, hidden: bool) {
        self.unread.set(0);
        if hidden {
            self.first_unread.set(None);
        }
    }

    /// The tab title: "(3) general · Chat" while messages wait unseen.
    pub fn title(self) -> String {
        let room = self.room.get_value().to_string();
        let locale = self.i18n.get_locale();
        match self.unread.get() {
            0 => crate::lang::page_title(locale, &room),
            n => tf!(locale, room.unread_title, n = n, room = room),
        }
    }

    /// A message or PM the person has not seen arrived.
    fn unseen(self, seq: Option<u64>) {
        if !page_hidden() {
            return;
        }
        self.unread.update(|n| *n += 1);
        if let Some(seq) = seq
            && self.first_unread.get_untracked().is_none()
        {
            self.first_unread.set(Some(seq));
        }
    }

    fn on_private(self, user: String, message: String) {
        self.unseen(None);
        if page_hidden() {
            self.unread_pms.update(|n| *n += 1);
        }
        let title = tf!(
            self.i18n.get_locale_untracked(),
            alerts.pm_from,
            user = &user
        );
        notify(&title, &message, &format!("pm:{user}"));
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

    /// Where a reconnect resumes: after the contiguous part of the log.
    pub fn resume_from(self) -> Option<u64> {
        self.log.with_untracked(RoomLog::contiguous_up_to)
    }

    /// Puts `text` in the message box and focuses it.
    pub fn fill_input(self, text: &str) -> bool {
        let Some(field) = self.input.get() else {
            return false;
        };
        field.set_value(text);
        let _ = field.focus();
        true
    }

    /// Whether the viewer is the person called `name`.
    pub fn is_me(self, name: &str) -> bool {
        self.me.name().as_deref() == Some(name)
    }

    /// One event from the server.
    pub fn apply(self, event: ServerEvent) {
        match event {
            ServerEvent::ChatMessage(m) => self.on_message(m),
            ServerEvent::History(page) => self.on_history(page),
            ServerEvent::UserList { users } => self.on_user_list(users),
            ServerEvent::UserJoin { user } => self.users.update(|list| {
                if let Err(at) = list.binary_search(&user) {
                    list.insert(at, user);
                }
            }),
            ServerEvent::UserLeave { user } => {
                self.typing.stop(&user);
                self.users.update(|list| list.retain(|u| *u != user));
            }
            ServerEvent::PrivateMessage { user, message } => self.on_private(user, message),
            ServerEvent::PrivateMessageDelivered { target, message } => {
                self.pending.set_value(None);
                self.unread_pms.set(0);
                self.log.update(|l| l.add_private(false, target, message))
            }
            ServerEvent::Typing { user } if !self.is_me(&user) => self.typing.signal(user),
            ServerEvent::Typing { .. } => {}
            ServerEvent::MessageEdited {
                seq,
                message,
                edited_at,
                ..
            } => self.log.update(|l| l.edit(seq, message, edited_at)),
            ServerEvent::MessageDeleted { seq, .. } => self.log.update(|l| l.delete(seq)),
            ServerEvent::Reaction {
                seq, emoji, users, ..
            } => self.log.update(|l| l.react(seq, emoji, users)),
            ServerEvent::SessionEnded { reason, code } => self.notice.set(Some(Notice {
                text: session_ended_text(self.i18n.get_locale_untracked(), code, &reason),
                login: false,
                keep_until: f64::INFINITY,
            })),
            ServerEvent::Error(e) => self.on_error(e),
        }
    }

    fn on_message(self, m: ChatMessage) {
        self.typing.stop(&m.user);
        let newest = self.log.with_untracked(RoomLog::newest_seq);
        if newest > 0 && m.seq > newest + 1 {
            self.ask_for_hole_before(m.seq);
        }
        if self.is_me(&m.user) {
            self.pending.set_value(None);
        } else if m.seq > newest {
            self.unseen(Some(m.seq));
            if let Some(me) = self.me.name()
                && mentions_name(&m.message, &me)
            {
                let room = self.room.get_value();
                let locale = self.i18n.get_locale_untracked();
                let title = tf!(locale, alerts.mentioned, user = &m.user, room = &room);
                notify(&title, &m.message, &format!("mention:{room}"));
            }
        }
        self.log.update(|log| log.insert(Entry::Chat(m)));
    }

    fn on_history(self, page: History) {
        let oldest_shown = self.log.with_untracked(RoomLog::oldest_seq);
        let reaches_back = match (page.messages.first(), oldest_shown) {
            (Some(first), Some(oldest)) => first.seq < oldest,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        if reaches_back {
            self.older_available.set(page.has_more);
            if oldest_shown.is_some() && !page.messages.is_empty() {
                let height = self.log_view.get_untracked().map(|l| l.scroll_height());
                self.height_before_prepend.set_value(height);
            }
        }
        self.loading_older.set(false);
        let before = self.log.with_untracked(RoomLog::len);
        self.log.update(|log| {
            for m in page.messages {
                log.insert(Entry::Chat(m));
            }
        });
        let added = self.log.with_untracked(RoomLog::len) - before;
        self.recovering.update_value(|r| {
            if let Some(n) = r {
                *n += added;
            }
        });
    }

    fn on_user_list(self, mut list: Vec<String>) {
        list.sort();
        list.dedup();
        self.users.set(list);
        // The user list ends what the server sends on (re)connecting.
        if let Some(missed) = self.recovering.get_value() {
            self.recovering.set_value(None);
            self.status.set(ConnStatus::BackOnline(missed));
        }
    }

    fn on_error(self, e: ErrorEvent) {
        self.loading_older.set(false);
        let slow_down = e.code == ErrorCode::RateLimited;
        if let (true, Some(wait)) = (slow_down, e.retry_after_ms) {
            self.wait(wait);
        }
        self.notice.set(Some(Notice {
            login: e.code == ErrorCode::NotAuthenticated,
            text: error_text(self.i18n.get_locale_untracked(), &e),
            keep_until: if slow_down {
                now_ms() + SLOW_DOWN_SHOWN_MS
            } else {
                0.0
            },
        }));
    }

    /// The server refused a message for coming too fast: it goes back in
    /// the box (unless something new is being typed) and the composer
    /// counts down, then sends.
    fn wait(self, ms: u64) {
        if let (Some(text), Some(field)) = (self.pending.get_value(), self.input.get_untracked())
            && field.value().trim().is_empty()
        {
            field.set_value(&text);
        }
        self.pending.set_value(None);
        let until = now_ms() + ms as f64;
        self.wait_until.set(Some(until));
    }

    /// The socket's state changed.
    pub fn on_status(self, s: ConnStatus) {
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
        if !self.older_available.get_untracked() || self.loading_older.get_untracked() {
            return;
        }
        let Some(oldest) = self.log.with_untracked(RoomLog::oldest_seq) else {
            return;
        };
        self.loading_older.set(true);
        self.send(ClientFrame::History {
            before_seq: Some(oldest),
            limit: HISTORY_PAGE,
        });
    }

    /// The reader scrolled the log: follow new messages only while at the
    /// bottom; near the top, load older ones.
    pub fn on_scroll(self) {
        if let Some(log) = self.log_view.get() {
            let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
            self.stick_to_bottom
                .set_value(from_bottom < STICK_TO_BOTTOM_PX);
            if log.scroll_top() < LOAD_OLDER_PX {
                self.load_older();
            }
        }
    }

    /// After the log changed: keep following the newest message unless the
    /// reader scrolled up; when older ones were put on top, keep what the
    /// reader was looking at.
    pub fn keep_scroll_place(self) {
        let Some(log) = self.log_view.get() else {
            return;
        };
        if let Some(before) = self.height_before_prepend.get_value() {
            self.height_before_prepend.set_value(None);
            log.set_scroll_top(log.scroll_top() + log.scroll_height() - before);
        } else if self.stick_to_bottom.get_value() {
            log.set_scroll_top(log.scroll_height());
        }
    }

    /// The person sent something: the log follows it to the bottom.
    pub fn follow(self) {
        self.stick_to_bottom.set_value(true);
    }

    /// What the top of the log says.
    pub fn log_top(self) -> &'static str {
        let locale = self.i18n.get_locale();
        if self.loading_older.get() {
            td_string!(locale, log.loading_older)
        } else if self.older_available.get() {
            td_string!(locale, log.scroll_up)
        } else if self.log.with(RoomLog::is_empty) {
            td_string!(locale, log.empty)
        } else {
            td_string!(locale, log.start)
        }
    }
}
