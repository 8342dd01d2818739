-- Remembers which legacy `public.users` row (the old Node auth service's SERIAL id) became which
-- auth.users account, so `migrator legacy import-users` can be rerun without importing twice.

CREATE TABLE auth.legacy_user_map (
    legacy_id   INTEGER NOT NULL,
    user_id     UUID NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT legacy_user_map_pkey PRIMARY KEY (legacy_id),
    CONSTRAINT legacy_user_map_user_id_key UNIQUE (user_id),
    -- CASCADE: deleting an imported account forgets its mapping (a later import run would
    -- bring the legacy row back, so purge public.users once the import is final).
    CONSTRAINT legacy_user_map_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE auth.legacy_user_map IS 'Legacy public.users id (old Node auth service) to the auth.users account it was imported as.';
