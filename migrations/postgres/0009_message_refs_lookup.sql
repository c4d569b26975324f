-- A platform message that was already acted on is recognised by its platform id, in the
-- transaction that would act on it again (an inbound event redelivered after a crash).
create index message_refs_by_platform_message on message_refs (platform, channel, message);
