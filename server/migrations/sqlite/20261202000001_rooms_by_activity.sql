-- The lobby reads the most recently active rooms, a few at a time: with
-- this index that costs the same however many rooms exist.
CREATE INDEX rooms_by_activity ON rooms (last_message_at);
