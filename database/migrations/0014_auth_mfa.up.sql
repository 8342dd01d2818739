-- Second factor (issue 15): a user's TOTP authenticator (RFC 6238) and the recovery codes that
-- stand in for it. The login challenge between password and code reuses auth.one_time_tokens
-- (hashed, expiring, single use, bound to the user) with the new purpose 'mfa_login'.

-- ---------------------------------------------------------------------------------------------
-- auth.totp_factors: at most one per user; pending (confirmed_at NULL) until a first code proves
-- the authenticator holds the secret. Enrolling again while pending replaces the secret.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.totp_factors (
    user_id           UUID NOT NULL,
    -- XChaCha20-Poly1305 of the raw secret (24-byte nonce, then ciphertext and tag), keyed by
    -- MFA_ENCRYPTION_KEY with the user id as associated data: a copied row opens for no one else.
    secret_ciphertext BYTEA NOT NULL,
    confirmed_at      TIMESTAMPTZ,
    -- The newest 30-second step whose code was accepted: a code is good once, so a step is only
    -- accepted when it is greater than this one.
    last_used_step    BIGINT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT totp_factors_pkey PRIMARY KEY (user_id),
    CONSTRAINT totp_factors_secret_ciphertext_check CHECK (octet_length(secret_ciphertext) > 24),
    CONSTRAINT totp_factors_last_used_step_check CHECK (last_used_step >= 0),
    CONSTRAINT totp_factors_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.totp_factors IS 'A user''s TOTP second factor: encrypted secret, confirmation and the last accepted step.';

-- ---------------------------------------------------------------------------------------------
-- auth.recovery_codes: ten single-use codes per confirmed factor, shown once, stored hashed.
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.recovery_codes (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL,
    -- SHA-256 (hex) of the normalised code; codes carry 80 random bits, so no slow hash is needed.
    code_hash   TEXT NOT NULL,
    used_at     TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT recovery_codes_pkey PRIMARY KEY (id),
    CONSTRAINT recovery_codes_user_id_code_hash_key UNIQUE (user_id, code_hash),
    CONSTRAINT recovery_codes_code_hash_check CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT recovery_codes_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.recovery_codes IS 'Hashed single-use codes that replace a TOTP code when the authenticator is lost.';

-- ---------------------------------------------------------------------------------------------
-- auth.one_time_tokens: 'mfa_login' is the token a right password earns when a second factor is
-- on; it is spent by the code that completes the login.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE auth.one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE auth.one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password', 'mfa_login'));
