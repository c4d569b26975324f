-- A platform whose thread ids are unique on their own (a Discord thread id) finds a
-- thread message's conversation by the thread alone; and each thread remembers the last
-- platform message the bridge took in from it, so that after downtime it can ask the
-- platform for what came later and lose no reply.
create index conversation_refs_by_thread on conversation_refs (platform, thread);
alter table conversation_refs add column last_seen text;
