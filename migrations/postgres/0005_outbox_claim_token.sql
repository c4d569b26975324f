-- Each claim of an outbox row gets a token of its own; a worker records a delivery's
-- result only while its token still holds the row, so a worker whose lease ran out
-- cannot overwrite a newer claim.
alter table outbox add column claim_token text;
