-- Edited and deleted transcript lines: when, so that every thread copy can say so
-- ("edited", "deleted for the visitor") and a deleted line is never edited again.
alter table messages add column edited_at bigint;
alter table messages add column deleted_at bigint;
