-- Edits, deletes, reactions, admin-only rooms, disabled accounts and the
-- admin audit log (issue 8). Portable SQL, as in the first migration.

ALTER TABLE messages ADD COLUMN edited_at TEXT;
-- A deleted message keeps its row (seqs stay contiguous) with an empty body.
ALTER TABLE messages ADD COLUMN deleted_at TEXT;

CREATE TABLE reactions (
    room_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    username   TEXT    NOT NULL,
    emoji      TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);

ALTER TABLE rooms ADD COLUMN admin_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     TEXT    NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL
);
