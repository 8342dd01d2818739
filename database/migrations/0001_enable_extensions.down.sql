-- Reverts 0001: drops the shared updated_at trigger function and the two extensions.
-- RESTRICT (the default) makes this fail instead of cascading if anything still depends on them.

DROP FUNCTION public.update_updated_at_column();

DROP EXTENSION "pgcrypto";
DROP EXTENSION "uuid-ossp";
