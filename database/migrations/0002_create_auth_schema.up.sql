-- Creates the auth schema: users, their sessions and the security audit log.
-- Every column of the guide's DDL is kept exactly (type, default, nullability); additions are
-- named constraints, case-insensitive uniqueness, session revocation columns and extra indexes.

CREATE SCHEMA auth;
COMMENT ON SCHEMA auth IS 'Identity: user accounts, login sessions and the security audit trail.';

-- ---------------------------------------------------------------------------------------------
-- auth.users
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.users (
    id                    UUID NOT NULL DEFAULT gen_random_uuid(),
    email                 VARCHAR(255) NOT NULL,
    username              VARCHAR(50) NOT NULL,
    full_name             VARCHAR(255) NOT NULL,
    password_hash         TEXT NOT NULL,
    role                  VARCHAR(20) NOT NULL DEFAULT 'user',
    is_active             BOOLEAN DEFAULT true,
    is_verified           BOOLEAN DEFAULT false,
    github_id             VARCHAR(50),
    avatar_url            TEXT,
    last_login_at         TIMESTAMPTZ,
    failed_login_attempts INTEGER DEFAULT 0,
    locked_until          TIMESTAMPTZ,
    created_at            TIMESTAMPTZ DEFAULT now(),
    updated_at            TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_github_id_key UNIQUE (github_id),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin', 'super_admin')),
    CONSTRAINT users_email_check CHECK (email LIKE '_%@_%'),
    CONSTRAINT users_username_check CHECK (char_length(btrim(username)) > 0),
    CONSTRAINT users_failed_login_attempts_check CHECK (failed_login_attempts >= 0)
);
COMMENT ON TABLE auth.users IS 'One row per account: credentials (argon2id PHC hash), role, lockout state, profile.';

-- Case-insensitive uniqueness: Alice@x and alice@x are the same account. The exact-case
-- users_email_key / users_username_key above come from the guide; map all four names to 409.
CREATE UNIQUE INDEX users_email_lower_key ON auth.users (lower(email));
CREATE UNIQUE INDEX users_username_lower_key ON auth.users (lower(username));

-- Guide indexes (kept verbatim, although the UNIQUE constraints above already index the columns).
CREATE INDEX idx_auth_users_email ON auth.users (email);
CREATE INDEX idx_auth_users_username ON auth.users (username);

CREATE TRIGGER update_auth_users_updated_at
    BEFORE UPDATE ON auth.users
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- auth.user_sessions
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.user_sessions (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id       UUID NOT NULL,
    session_token TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    ip_address    INET,
    user_agent    TEXT,
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ DEFAULT now(),
    -- Set on logout / refresh-token rotation; a revoked session is never valid again.
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,

    CONSTRAINT user_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT user_sessions_session_token_key UNIQUE (session_token),
    CONSTRAINT user_sessions_refresh_token_key UNIQUE (refresh_token),
    CONSTRAINT user_sessions_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.user_sessions IS 'Login sessions: session and refresh tokens, client info, expiry and revocation.';
COMMENT ON COLUMN auth.user_sessions.refresh_token IS 'Store a SHA-256 digest of the token, never the raw bearer value.';

CREATE INDEX idx_auth_sessions_user_id ON auth.user_sessions (user_id);
CREATE INDEX idx_auth_sessions_token ON auth.user_sessions (session_token);
-- For the periodic purge of expired sessions.
CREATE INDEX user_sessions_expires_at_idx ON auth.user_sessions (expires_at);

-- ---------------------------------------------------------------------------------------------
-- auth.audit_log
-- ---------------------------------------------------------------------------------------------
CREATE TABLE auth.audit_log (
    id         UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id    UUID,
    action     VARCHAR(100) NOT NULL,
    ip_address INET,
    user_agent TEXT,
    success    BOOLEAN NOT NULL,
    details    JSONB,
    created_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT audit_log_pkey PRIMARY KEY (id),
    -- SET NULL: the audit trail outlives the account it mentions.
    CONSTRAINT audit_log_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE SET NULL
);
COMMENT ON TABLE auth.audit_log IS 'Append-only security events (login, logout, password change, lockout) with outcome.';

CREATE INDEX idx_auth_audit_user_id ON auth.audit_log (user_id);
CREATE INDEX idx_auth_audit_created_at ON auth.audit_log (created_at);
CREATE INDEX audit_log_action_created_at_idx ON auth.audit_log (action, created_at);
