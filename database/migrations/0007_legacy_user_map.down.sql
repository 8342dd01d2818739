-- Reverts 0007: forgets which accounts came from the legacy user table (the accounts stay).

DROP TABLE auth.legacy_user_map;
