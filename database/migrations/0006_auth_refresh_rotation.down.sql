-- Reverts 0006: drops refresh-token history and the session revocation reason, and makes the
-- tightened columns nullable again.

DROP TABLE auth.refresh_tokens;

ALTER TABLE auth.audit_log
    ALTER COLUMN created_at DROP NOT NULL;

ALTER TABLE auth.user_sessions
    DROP CONSTRAINT user_sessions_revoked_reason_check,
    DROP COLUMN revoked_reason,
    ALTER COLUMN created_at DROP NOT NULL;

ALTER TABLE auth.users
    ALTER COLUMN is_active DROP NOT NULL,
    ALTER COLUMN is_verified DROP NOT NULL,
    ALTER COLUMN failed_login_attempts DROP NOT NULL,
    ALTER COLUMN created_at DROP NOT NULL,
    ALTER COLUMN updated_at DROP NOT NULL;
