-- Timers (docs/behaviour.md#timers). A widget may set how long a routed conversation
-- waits for its assignee to accept (`accept_within`) and how long a visitor's message
-- waits for an operator's reply (`reply_within`), in milliseconds; null is off.
alter table widgets add column accept_within_ms bigint;
alter table widgets add column reply_within_ms bigint;

-- An operator who let a conversation time out is skipped by routing for it, like one
-- who declined it, but shown apart: 1 for a lapse, 0 for a Reject.
alter table declines add column timed_out bigint not null default 0;

-- A timer is a row with a due time, written in the transaction that starts it, so it
-- survives restarts. It belongs to one state of its conversation (`version`): any
-- change since makes it stale, and when it falls due it changes nothing. Workers take
-- due rows like the outbox's (a lease and a claim token; on PostgreSQL with SKIP
-- LOCKED), and a timer fires in the transaction that deletes it, so it fires once
-- across instances and restarts.
create table timers (
    id bigserial primary key,
    workspace_id bigint not null,
    conversation_id text not null references conversations(id) on delete cascade,
    -- accept: re-route if `operator_id` has not accepted by `due_at`; reply: nudge the
    -- assignee, a visitor's message having waited since `created_at`; reply_late: tell
    -- the thread, at twice that
    kind text not null,
    due_at bigint not null,
    version bigint not null,
    operator_id bigint,
    locked_until bigint,
    claim_token text,
    created_at bigint not null,
    unique (conversation_id, kind)
);
create index timers_due on timers (due_at);
create index timers_leased on timers (locked_until);

-- Whom a widget's thread notices mention on each platform (a Slack user group id, a
-- Discord role id), and, per conversation and platform, that they were mentioned: at
-- most once for one conversation.
create table widget_escalations (
    widget_id text not null references widgets(id) on delete cascade,
    platform text not null,
    target text not null,
    primary key (widget_id, platform)
);
create table conversation_escalations (
    conversation_id text not null references conversations(id) on delete cascade,
    platform text not null,
    at bigint not null,
    primary key (conversation_id, platform)
);
