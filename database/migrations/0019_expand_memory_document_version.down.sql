-- Reverts 0019: documents lose their version (edits are then unprotected, as before).

ALTER TABLE memory.documents DROP COLUMN version;
