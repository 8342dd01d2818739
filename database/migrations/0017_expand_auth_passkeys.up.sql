-- Passkeys (issue 15): a user's WebAuthn credentials, and the ceremonies in flight between a
-- `start` and its `finish`. Expand-only: two new tables that older builds never touch.

-- ---------------------------------------------------------------------------------------------
-- auth.passkeys: one row per registered credential. `passkey` is webauthn-rs's serialised
-- `Passkey` (public key, algorithm, signature counter, backup flags); the counter is also kept
-- in `sign_count` so that spending an assertion is one conditional UPDATE (a cloned
-- authenticator replaying an older counter loses, even against a concurrent request).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.passkeys (
    id             UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id        UUID NOT NULL,
    credential_id  BYTEA NOT NULL,
    passkey        JSONB NOT NULL,
    name           TEXT NOT NULL,
    sign_count     BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at   TIMESTAMPTZ,

    CONSTRAINT passkeys_pkey PRIMARY KEY (id),
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    CONSTRAINT passkeys_credential_id_check CHECK (octet_length(credential_id) BETWEEN 16 AND 1023),
    CONSTRAINT passkeys_name_check CHECK (char_length(name) BETWEEN 1 AND 64),
    CONSTRAINT passkeys_sign_count_check CHECK (sign_count >= 0),
    CONSTRAINT passkeys_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
CREATE INDEX passkeys_user_id_idx ON auth.passkeys (user_id, created_at);
COMMENT ON TABLE auth.passkeys IS 'A user''s WebAuthn credentials (passkeys): serialised public key, counter, name, last use.';

-- ---------------------------------------------------------------------------------------------
-- auth.passkey_ceremonies: the server half of a registration or authentication between start
-- and finish (webauthn-rs's serialised state: the challenge and what it allows). Single use:
-- finish deletes the row it reads; expired rows are refused and swept.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.passkey_ceremonies (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    -- The user the ceremony is for; NULL for a passwordless login (the passkey names the user).
    user_id     UUID,
    kind        TEXT NOT NULL,
    state       JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL,

    CONSTRAINT passkey_ceremonies_pkey PRIMARY KEY (id),
    CONSTRAINT passkey_ceremonies_kind_check
        CHECK (kind IN ('registration', 'passwordless_login', 'second_factor')),
    CONSTRAINT passkey_ceremonies_user_id_check
        CHECK ((kind = 'passwordless_login') = (user_id IS NULL)),
    CONSTRAINT passkey_ceremonies_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
CREATE INDEX passkey_ceremonies_user_id_idx ON auth.passkey_ceremonies (user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX passkey_ceremonies_expires_at_idx ON auth.passkey_ceremonies (expires_at);
COMMENT ON TABLE auth.passkey_ceremonies IS 'WebAuthn ceremonies in flight (challenge state between start and finish); single use, short-lived.';
