-- Reverts 0008: drops the mail outbox and the one-time tokens.

DROP TABLE auth.mail_outbox;
DROP TABLE auth.one_time_tokens;
