-- Read markers (issue 36): how far each person has read each room, so every
-- device of theirs agrees on what is unread. A marker only moves forward.
-- A person has one once they have read the room: that makes it one of
-- "their" rooms (the lobby and the sidebar count its unread messages).

CREATE TABLE read_markers (
    user_id bigint NOT NULL REFERENCES users (id),
    room_id bigint NOT NULL REFERENCES rooms (id),
    seq     bigint NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
