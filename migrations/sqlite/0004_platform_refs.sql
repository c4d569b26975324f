-- Where things live on each chat platform, in tables keyed by platform, so a new
-- platform adds rows, never columns. The per-platform columns of earlier versions move
-- here and are dropped.

-- The thread a conversation has on a platform: its channel, its thread (a Slack root
-- ts, a Discord thread id) and the root message the bridge keeps up to date.
create table conversation_refs (
    conversation_id text not null references conversations(id) on delete cascade,
    platform text not null,
    channel text not null,
    thread text,
    root_message text,
    primary key (conversation_id, platform)
);
-- A thread message finds its conversation by platform, channel and thread.
create index conversation_refs_thread on conversation_refs (platform, channel, thread);

-- Where a transcript line stands on a platform: so it is mirrored once, and an
-- operator's reply carries its delivery receipt where it was written.
create table message_refs (
    message_id bigint not null references messages(id) on delete cascade,
    platform text not null,
    channel text not null,
    message text not null,
    primary key (message_id, platform)
);

-- A person's account on a platform; one account belongs to one operator per workspace.
create table operator_identities (
    operator_id bigint not null references operators(id) on delete cascade,
    workspace_id bigint not null,
    platform text not null,
    external_id text not null,
    primary key (operator_id, platform),
    unique (workspace_id, platform, external_id)
);

-- The channel a widget's conversations are mirrored into, per platform.
create table widget_channels (
    widget_id text not null references widgets(id) on delete cascade,
    platform text not null,
    channel text not null,
    primary key (widget_id, platform)
);

insert into conversation_refs (conversation_id, platform, channel, thread, root_message)
    select id, 'slack', slack_channel, slack_thread_ts, slack_thread_ts from conversations
    where slack_channel is not null and slack_thread_ts is not null;
insert into conversation_refs (conversation_id, platform, channel, thread, root_message)
    select id, 'discord', discord_channel_id, discord_thread_id, discord_root_message_id from conversations
    where discord_channel_id is not null;
insert into message_refs (message_id, platform, channel, message)
    select id, 'slack', slack_channel, slack_ts from messages
    where slack_channel is not null and slack_ts is not null;
insert into operator_identities (operator_id, workspace_id, platform, external_id)
    select id, workspace_id, 'slack', slack_user_id from operators where slack_user_id is not null;
insert into operator_identities (operator_id, workspace_id, platform, external_id)
    select id, workspace_id, 'discord', discord_user_id from operators where discord_user_id is not null;
insert into widget_channels (widget_id, platform, channel)
    select id, 'slack', slack_channel from widgets where slack_channel is not null;
insert into widget_channels (widget_id, platform, channel)
    select id, 'discord', discord_channel from widgets where discord_channel is not null;

drop index conversations_slack_thread;
drop index operators_slack_user;
drop index operators_discord_user;
alter table conversations drop column slack_channel;
alter table conversations drop column slack_thread_ts;
alter table conversations drop column discord_channel_id;
alter table conversations drop column discord_thread_id;
alter table conversations drop column discord_root_message_id;
alter table messages drop column slack_channel;
alter table messages drop column slack_ts;
alter table operators drop column slack_user_id;
alter table operators drop column discord_user_id;
alter table widgets drop column slack_channel;
alter table widgets drop column discord_channel;
