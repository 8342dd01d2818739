-- Reverts 0002: drops the auth tables (reverse dependency order, with their indexes, constraints
-- and trigger), then the now-empty auth schema. No CASCADE: leftovers must make this fail.

DROP TABLE auth.audit_log;
DROP TABLE auth.user_sessions;
DROP TRIGGER update_auth_users_updated_at ON auth.users;
DROP TABLE auth.users;

DROP SCHEMA auth RESTRICT;
