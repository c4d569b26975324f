-- How many times a row was claimed: more than once means an earlier attempt may have
-- reached the platform without the bridge learning the result (a lost response, a
-- crash), so a delivery that must not repeat checks the platform first.
alter table outbox add column claims bigint not null default 0;
