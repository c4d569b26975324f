-- Files operators share in a thread, served to the widget platform through signed,
-- expiring links (`GET /v1/files/{id}/{name}`). The bytes stay with the chat platform:
-- `source` is its reference, which only that platform's adapter reads.
create table files (
    id text primary key,
    conversation_id text not null references conversations(id),
    message_id bigint references messages(id) on delete cascade,
    platform text not null,
    source text not null,
    name text not null,
    mimetype text not null,
    size bigint not null,
    created_at bigint not null
);
create index files_message on files (message_id);
