-- Client ids (issue 36): a post may carry the id its client chose, so that
-- sending it again after a dropped connection never stores it twice. Unique
-- per room and sender; posts without one (the tutorials' frames) have NULL,
-- which the index leaves out.

ALTER TABLE messages ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX messages_by_client_id ON messages (room_id, user_id, client_id)
    WHERE client_id IS NOT NULL;
