-- Step-up (issue 15): when a session last proved a second factor (a login finished with a code,
-- a step-up, a factor confirmed in it). Its access tokens carry `aal2` while this is recent enough.
-- Expand-only: a nullable column that older builds neither read nor write.

ALTER TABLE auth.user_sessions ADD COLUMN second_factor_at TIMESTAMPTZ;
COMMENT ON COLUMN auth.user_sessions.second_factor_at IS
    'Last second-factor proof in this session; refreshed tokens keep aal2 while it is younger than AAL2_MAX_AGE_SECS.';
