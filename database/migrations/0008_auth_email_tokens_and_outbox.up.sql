-- Single-use tokens for email verification and password reset (stored hashed), and the mail
-- outbox: mails are written in the same transaction as the token they carry, then sent by a
-- worker, so a crash can neither lose a mail nor leave a token nobody was told about.

CREATE TABLE auth.one_time_tokens (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL,
    purpose     VARCHAR(30) NOT NULL,
    -- SHA-256 (hex) of the token sent by mail; the token itself is never stored here.
    token_hash  TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT one_time_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT one_time_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT one_time_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password')),
    CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.one_time_tokens IS 'Hashed single-use tokens mailed for email verification and password reset.';

CREATE INDEX one_time_tokens_user_id_purpose_idx ON auth.one_time_tokens (user_id, purpose);

CREATE TABLE auth.mail_outbox (
    id               UUID NOT NULL DEFAULT gen_random_uuid(),
    recipient        VARCHAR(255) NOT NULL,
    subject          TEXT NOT NULL,
    -- Cleared once sent: it may carry a live token.
    body_text        TEXT,
    kind             VARCHAR(50) NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error       TEXT,
    sent_at          TIMESTAMPTZ,
    -- Set when the worker gives up after too many attempts.
    abandoned_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT mail_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT mail_outbox_attempts_check CHECK (attempts >= 0),
    CONSTRAINT mail_outbox_body_text_check CHECK (body_text IS NOT NULL OR sent_at IS NOT NULL OR abandoned_at IS NOT NULL)
);
COMMENT ON TABLE auth.mail_outbox IS 'Mails waiting to be sent (or sent), written in the transaction that needs them.';

CREATE INDEX mail_outbox_pending_idx ON auth.mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND abandoned_at IS NULL;
