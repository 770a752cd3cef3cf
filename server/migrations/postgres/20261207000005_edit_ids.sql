-- Client ids of edits (issue 36): an edit sent again after a dropped
-- connection, with the id it had, is acknowledged and not applied again
-- (nor broadcast). Only the author edits a message, so an id is unique
-- per message.

CREATE TABLE edit_ids (
    room_id   bigint NOT NULL REFERENCES rooms (id),
    seq       bigint NOT NULL,
    client_id TEXT NOT NULL,
    PRIMARY KEY (room_id, seq, client_id)
);
