-- Reverts 0016: sessions forget their second-factor proofs (every token refreshed after this
-- is aal1 again).

ALTER TABLE auth.user_sessions DROP COLUMN second_factor_at;
