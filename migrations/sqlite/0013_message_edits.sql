-- Edited and deleted transcript lines: when, so that every thread copy can say so
-- ("edited", "deleted for the visitor") and a deleted line is never edited again; and
-- the platform an operator's line was written on, whose message of it is theirs to edit
-- or delete (elsewhere the bridge's copy stands, which changes nothing for the visitor).
alter table messages add column edited_at bigint;
alter table messages add column deleted_at bigint;
alter table messages add column origin text;
