-- OAuth sign-ins in flight: the hashed `state` sent to the provider, the PKCE verifier the
-- callback needs for the code exchange, and where to send the user afterwards. Each row is
-- single use and lives ~10 minutes; expired rows are purged by the service.

CREATE TABLE auth.oauth_states (
    -- SHA-256 (hex) of the `state` parameter; the state itself is never stored.
    state_hash     TEXT NOT NULL,
    provider       VARCHAR(20) NOT NULL,
    -- The PKCE code_verifier. Kept in clear because the token request needs it; it is useless
    -- without the authorization code, which only the user's browser receives.
    pkce_verifier  TEXT NOT NULL,
    -- Absolute URL (on PUBLIC_APP_URL) to land on after sign-in; NULL means PUBLIC_APP_URL.
    redirect_to    TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ NOT NULL,
    used_at        TIMESTAMPTZ,

    CONSTRAINT oauth_states_pkey PRIMARY KEY (state_hash),
    CONSTRAINT oauth_states_state_hash_check CHECK (state_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT oauth_states_provider_check CHECK (provider IN ('github')),
    CONSTRAINT oauth_states_pkce_verifier_check CHECK (char_length(pkce_verifier) BETWEEN 43 AND 128),
    CONSTRAINT oauth_states_expires_at_check CHECK (expires_at > created_at)
);
COMMENT ON TABLE auth.oauth_states IS 'OAuth sign-ins in flight: hashed state, PKCE verifier and post-login target; single use, short-lived.';

-- For the purge of expired rows.
CREATE INDEX oauth_states_expires_at_idx ON auth.oauth_states (expires_at);
