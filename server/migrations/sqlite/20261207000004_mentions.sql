-- Mentions (issue 36): which messages say `@someone`, for the mention
-- badges beside a person's rooms (lobby, sidebar). Noted when a message
-- is stored, for each person it names who has the room among theirs (a
-- read marker) and may read it; a badge counts those newer than the
-- person's marker. Direct conversations are not noted: every message
-- there is for the other person, and its unread count says so.

CREATE TABLE mentions (
    user_id INTEGER NOT NULL REFERENCES users (id),
    room_id INTEGER NOT NULL REFERENCES rooms (id),
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
