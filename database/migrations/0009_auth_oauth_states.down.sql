-- Reverts 0009: drops the OAuth sign-in states (with their index and constraints).

DROP TABLE auth.oauth_states;
