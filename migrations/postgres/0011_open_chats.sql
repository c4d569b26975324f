-- Routing picks among thousands of operators by their open chats (conversations
-- assigned to them that are `handed_off` or `active`) and by when they were last given
-- one. Counting open chats per operator on every pick grows with the team and with the
-- open conversations; kept on the operator's row, they cost one indexed row update
-- when a conversation's assignee or status changes. A trigger keeps both, so no write
-- path can forget them: a conversation that gets a new assignee stamps them with its
-- `updated_at` as their `last_assigned_at`.
alter table operators add column open_chats bigint not null default 0;
update operators set open_chats = (
    select count(*) from conversations c
    where c.assignee_id = operators.id and c.status in ('handed_off', 'active')
);

-- One update statement for both operators of a reassignment: it locks their rows in
-- index order, so two opposite transfers at once cannot deadlock on them.
create function conversations_open_chats() returns trigger language plpgsql as $$
declare
    was_open boolean := false;
    is_open boolean := new.assignee_id is not null and new.status in ('handed_off', 'active');
    old_assignee bigint := null;
begin
    if tg_op = 'UPDATE' then
        old_assignee := old.assignee_id;
        was_open := old.assignee_id is not null and old.status in ('handed_off', 'active');
        if old.assignee_id is not distinct from new.assignee_id and was_open = is_open then
            return null;
        end if;
    end if;
    update operators set
        open_chats = open_chats
            - (case when was_open and id = old_assignee then 1 else 0 end)
            + (case when is_open and id = new.assignee_id then 1 else 0 end),
        last_assigned_at = case when id = new.assignee_id and old_assignee is distinct from new.assignee_id
            then new.updated_at else last_assigned_at end
    where id = any(array[old_assignee, new.assignee_id]);
    return null;
end
$$;

create trigger conversations_open_chats after insert or update of assignee_id, status on conversations
for each row execute function conversations_open_chats();

-- Lightest-load reads the first available operator in this order (never assigned
-- first); round-robin walks a workspace's operators in id order from its cursor.
create index operators_lightest on operators (workspace_id, open_chats, last_assigned_at nulls first, id);
create index operators_round_robin on operators (workspace_id, id);
