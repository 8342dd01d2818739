-- Enables the extensions every later migration relies on (uuid-ossp, pgcrypto) and defines the
-- shared trigger function that keeps updated_at columns current (guide, Appendix A).
-- gen_random_uuid() is built into PostgreSQL 13+; pgcrypto stays for digest()/crypt() and parity with the guide.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
CREATE EXTENSION IF NOT EXISTS "pgcrypto";

-- Plain CREATE (not OR REPLACE): if a legacy copy already exists we want a loud failure rather
-- than silently taking it over and dropping it again in the down migration.
CREATE FUNCTION public.update_updated_at_column()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION public.update_updated_at_column() IS
    'BEFORE UPDATE row trigger: sets NEW.updated_at to now() (transaction start time).';
