-- Refresh-token rotation with reuse detection (auth.refresh_tokens keeps every token a session
-- was ever given, so a replayed old one is recognised and revokes its whole session), and
-- NOT NULL on flags the guide left nullable but the service always sets (defaults unchanged).

ALTER TABLE auth.users
    ALTER COLUMN is_active SET NOT NULL,
    ALTER COLUMN is_verified SET NOT NULL,
    ALTER COLUMN failed_login_attempts SET NOT NULL,
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN updated_at SET NOT NULL;

ALTER TABLE auth.user_sessions
    ALTER COLUMN created_at SET NOT NULL,
    -- Why the session ended: logout, logout_all, password_changed, refresh_token_reuse, ...
    ADD COLUMN revoked_reason VARCHAR(50),
    ADD CONSTRAINT user_sessions_revoked_reason_check
        CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL));

ALTER TABLE auth.audit_log
    ALTER COLUMN created_at SET NOT NULL;

CREATE TABLE auth.refresh_tokens (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    session_id  UUID NOT NULL,
    -- SHA-256 (hex) of the opaque token; the token itself is never stored.
    token_hash  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when this token was exchanged for a newer one; presenting it again is reuse.
    rotated_at  TIMESTAMPTZ,

    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_token_hash_check CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES auth.user_sessions (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.refresh_tokens IS 'Every refresh token issued per session (hashed), for rotation and reuse detection.';

CREATE INDEX refresh_tokens_session_id_idx ON auth.refresh_tokens (session_id);
