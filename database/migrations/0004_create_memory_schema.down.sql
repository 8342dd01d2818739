-- Reverts 0004: drops the memory tables (chunks first; indexes, constraints and the trigger go
-- with them), then the now-empty memory schema. No CASCADE.

DROP TABLE memory.chunks;
DROP TRIGGER update_memory_documents_updated_at ON memory.documents;
DROP TABLE memory.documents;

DROP SCHEMA memory RESTRICT;
