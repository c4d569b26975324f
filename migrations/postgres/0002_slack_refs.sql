-- Where a transcript line also lives in Slack: so it is mirrored once, and an operator's
-- reply can carry its delivery receipt (a reaction) where it was written.
alter table messages add column slack_channel text;
alter table messages add column slack_ts text;
-- Thread replies find their conversation by channel and thread.
create index conversations_slack_thread on conversations (slack_channel, slack_thread_ts);
