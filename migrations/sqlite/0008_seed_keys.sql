-- Configuration seeding finds the operators it declared by a key of its own, which no
-- one can change through the API, instead of by their display name (which operators
-- may change: renaming oneself to a seeded admin's name must not make one admin).
alter table operators add column seed_key text;
create unique index operators_seed_key on operators (workspace_id, seed_key);
