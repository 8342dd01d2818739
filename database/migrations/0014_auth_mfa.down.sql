-- Reverts 0014: drops the login challenges (the old purpose check would refuse them), restores
-- that check, then drops the recovery codes and the TOTP factors.

DELETE FROM auth.one_time_tokens WHERE purpose = 'mfa_login';
ALTER TABLE auth.one_time_tokens DROP CONSTRAINT one_time_tokens_purpose_check;
ALTER TABLE auth.one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'reset_password'));

DROP TABLE auth.recovery_codes;
DROP TABLE auth.totp_factors;
