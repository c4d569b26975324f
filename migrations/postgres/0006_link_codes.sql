-- Codes that link one person's accounts on two chat platforms to one operator
-- (`/handoff link`): issued on one platform for the caller's operator, redeemed once on
-- another within their lifetime. A redeemed code is kept as the record of the link.
create table link_codes (
    code text primary key,
    workspace_id bigint not null references workspaces(id),
    -- the operator the code links to, and the platform it was issued on
    operator_id bigint not null references operators(id) on delete cascade,
    platform text not null,
    created_at bigint not null,
    expires_at bigint not null,
    -- set when redeemed: when, and which account on which platform it linked
    used_at bigint,
    used_platform text,
    used_account text,
    -- the operator that account belonged to before; no reference, as a retired
    -- operator without history is deleted
    replaced_operator_id bigint
);
-- One live code per operator.
create unique index link_codes_live on link_codes (operator_id) where used_at is null;
