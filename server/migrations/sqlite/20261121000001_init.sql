-- Users, rooms and messages. Portable SQL (SQLite now, PostgreSQL later):
-- integer keys, TEXT timestamps in RFC 3339 UTC, booleans as 0/1 integers.
-- Sessions live in tower-sessions' own table, created by its store.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL
);

CREATE TABLE rooms (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    -- The highest seq handed out; the next message gets last_seq + 1, in the
    -- same transaction that stores it, so seqs are contiguous.
    last_seq        INTEGER NOT NULL DEFAULT 0,
    last_message_at TEXT,
    created_at      TEXT    NOT NULL
);

CREATE TABLE messages (
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    seq        INTEGER NOT NULL,
    id         TEXT    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    username   TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    PRIMARY KEY (room_id, seq)
);
