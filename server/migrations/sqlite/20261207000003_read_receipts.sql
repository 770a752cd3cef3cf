-- Read receipts (issue 36): in a direct conversation the other person sees
-- "Seen" under the last message one has read, unless one turns it off.

ALTER TABLE users ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;
