-- Lookalike keys (issue 14): a name's TR39 confusable skeleton after NFKC
-- and case folding, unique among users and among rooms, so `аlice`
-- (Cyrillic а) cannot register beside `alice`. SQL cannot compute them:
-- the server fills in every NULL key at start-up. An existing pair of
-- lookalikes keeps both accounts (the later one's key stays NULL, and the
-- server logs the pair at each start); new lookalikes of either are refused.

ALTER TABLE users ADD COLUMN name_key TEXT;
ALTER TABLE rooms ADD COLUMN name_key TEXT;
CREATE UNIQUE INDEX users_by_name_key ON users (name_key);
CREATE UNIQUE INDEX rooms_by_name_key ON rooms (name_key);
