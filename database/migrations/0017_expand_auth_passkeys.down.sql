-- Reverts 0017: drops the passkey ceremonies and the passkeys themselves.

DROP INDEX auth.passkey_ceremonies_expires_at_idx;
DROP INDEX auth.passkey_ceremonies_user_id_idx;
DROP TABLE auth.passkey_ceremonies;
DROP INDEX auth.passkeys_user_id_idx;
DROP TABLE auth.passkeys;
