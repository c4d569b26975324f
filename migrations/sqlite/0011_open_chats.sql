-- Routing picks among thousands of operators by their open chats (conversations
-- assigned to them that are `handed_off` or `active`) and by when they were last given
-- one. Counting open chats per operator on every pick grows with the team and with the
-- open conversations; kept on the operator's row, they cost one indexed row update
-- when a conversation's assignee or status changes. Triggers keep both, so no write
-- path can forget them: a conversation that gets a new assignee stamps them with its
-- `updated_at` as their `last_assigned_at`.
alter table operators add column open_chats bigint not null default 0;
update operators set open_chats = (
    select count(*) from conversations c
    where c.assignee_id = operators.id and c.status in ('handed_off', 'active')
);

create trigger conversations_open_chats_insert after insert on conversations
when new.assignee_id is not null
begin
    update operators set
        open_chats = open_chats + (new.status in ('handed_off', 'active')),
        last_assigned_at = new.updated_at
    where id = new.assignee_id;
end;

create trigger conversations_open_chats_update after update of assignee_id, status on conversations
when old.assignee_id is not new.assignee_id
  or (old.status in ('handed_off', 'active')) <> (new.status in ('handed_off', 'active'))
begin
    update operators set
        open_chats = open_chats
            - (id is old.assignee_id and old.status in ('handed_off', 'active'))
            + (id is new.assignee_id and new.status in ('handed_off', 'active')),
        last_assigned_at = case when id is new.assignee_id and old.assignee_id is not new.assignee_id
            then new.updated_at else last_assigned_at end
    where id in (old.assignee_id, new.assignee_id);
end;

-- Lightest-load reads the first available operator in this order (never assigned
-- first); round-robin walks a workspace's operators in id order from its cursor.
create index operators_lightest on operators (workspace_id, open_chats, last_assigned_at, id);
create index operators_round_robin on operators (workspace_id, id);
