-- Send slots shared by every instance: per lane (a Slack channel, a Slack method, a
-- Discord route or Discord's global limit) the theoretical arrival time of the next call
-- (GCRA), and until when a platform's Retry-After holds the lane, in epoch milliseconds.
-- Several instances reserve their calls here, so together they keep a platform's limit,
-- not each of them.
create table send_pace (
    lane text primary key,
    tat bigint not null,
    held_until bigint not null default 0
);
