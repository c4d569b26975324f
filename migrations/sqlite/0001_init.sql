-- The whole schema of the assignment engine. Times are epoch milliseconds (BIGINT),
-- flags are BIGINT 0/1 and JSON is TEXT, so one SQL text runs on SQLite and PostgreSQL
-- through sqlx's Any driver. Every table carries the workspace it belongs to, directly
-- or through its parent.

-- One support organisation. The bridge starts with workspace 1, "default".
create table workspaces (
    id integer primary key autoincrement,
    name text not null,
    slack_team_id text unique,
    discord_guild_id text unique,
    takeover text not null default 'managers',
    reply_mode text not null default 'relay',
    note_prefix text not null default '//',
    created_at bigint not null
);
insert into workspaces (id, name, created_at) values (1, 'default', 0);

-- Human teammates. One person may have a Slack and a Discord identity.
create table operators (
    id integer primary key autoincrement,
    workspace_id bigint not null references workspaces(id),
    name text not null,
    role text not null default 'agent',
    presence text not null default 'available',
    capacity bigint,
    slack_user_id text,
    discord_user_id text,
    last_assigned_at bigint,
    created_at bigint not null
);
create unique index operators_slack_user on operators (workspace_id, slack_user_id);
create unique index operators_discord_user on operators (workspace_id, discord_user_id);

create table teams (
    id integer primary key autoincrement,
    workspace_id bigint not null references workspaces(id),
    name text not null,
    -- round-robin position within the team: the last operator picked
    rr_cursor bigint,
    created_at bigint not null,
    unique (workspace_id, name)
);

create table team_members (
    team_id bigint not null references teams(id) on delete cascade,
    operator_id bigint not null references operators(id) on delete cascade,
    primary key (team_id, operator_id)
);

create table widgets (
    id text primary key,
    workspace_id bigint not null references workspaces(id),
    routing text not null default 'manual',
    -- round-robin position: the last operator picked, survives restarts
    rr_cursor bigint,
    slack_channel text,
    discord_channel text,
    created_at bigint not null
);

-- Operators eligible for a widget's conversations; none listed = everyone.
create table widget_eligible (
    widget_id text not null references widgets(id) on delete cascade,
    operator_id bigint not null references operators(id) on delete cascade,
    primary key (widget_id, operator_id)
);

create table conversations (
    id text primary key,
    workspace_id bigint not null references workspaces(id),
    widget_id text not null references widgets(id),
    status text not null,
    assignee_id bigint references operators(id),
    team_id bigint references teams(id) on delete set null,
    -- incremented by every change; every write checks it
    version bigint not null default 0,
    visitor_name text,
    visitor_email text,
    summary text,
    reason text,
    topic text,
    outcome text,
    tags text,
    slack_channel text,
    slack_thread_ts text,
    discord_channel_id text,
    discord_thread_id text,
    discord_root_message_id text,
    created_at bigint not null,
    updated_at bigint not null
);
-- lightest-load counts open chats per assignee; the inbox filters by status
create index conversations_assignee_status on conversations (assignee_id, status);
create index conversations_inbox on conversations (workspace_id, status, updated_at);
create index conversations_widget on conversations (widget_id, status);

-- The transcript: visitor, bot and operator lines, and internal notes.
create table messages (
    id integer primary key autoincrement,
    conversation_id text not null references conversations(id),
    author text not null,
    operator_id bigint references operators(id),
    text text not null,
    attachments text,
    external_id text,
    -- operator replies: pending, delivered, failed
    delivery text,
    at bigint not null
);
create index messages_conversation on messages (conversation_id, id);
create unique index messages_external on messages (conversation_id, external_id);

-- Who rejected a conversation since its last handoff; routing skips them.
create table declines (
    conversation_id text not null references conversations(id),
    operator_id bigint not null references operators(id),
    at bigint not null,
    primary key (conversation_id, operator_id)
);

-- Append-only audit of every assignment change.
create table assignment_events (
    id integer primary key autoincrement,
    workspace_id bigint not null,
    conversation_id text not null references conversations(id),
    version bigint not null,
    from_status text,
    to_status text not null,
    from_assignee bigint,
    to_assignee bigint,
    team_id bigint,
    actor text not null,
    actor_operator_id bigint,
    reason text not null,
    at bigint not null
);
create index assignment_events_conversation on assignment_events (conversation_id, id);

-- Inbound event ids already acted on (widget events, Slack event ids…).
create table inbound_events (
    source text not null,
    event_id text not null,
    received_at bigint not null,
    primary key (source, event_id)
);

-- Every outbound call, written in the transaction that caused it (SPEC §6).
create table outbox (
    id integer primary key autoincrement,
    workspace_id bigint not null,
    target text not null,
    kind text not null,
    -- rows with the same key are delivered one at a time, in id order
    ordering_key text not null,
    payload text not null,
    idempotency_key text not null unique,
    -- pending, inflight, done, dead
    status text not null default 'pending',
    attempts bigint not null default 0,
    next_attempt_at bigint not null,
    locked_until bigint,
    last_error text,
    created_at bigint not null,
    delivered_at bigint
);
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_ordering on outbox (ordering_key, status, id);

-- HTTP API tokens of operators, stored as SHA-256 hashes.
create table api_tokens (
    id integer primary key autoincrement,
    operator_id bigint not null references operators(id) on delete cascade,
    token_hash text not null unique,
    label text,
    created_at bigint not null
);
