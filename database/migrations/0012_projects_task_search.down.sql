-- Reverts 0012: no more task search or project-wide board index; position is described as
-- 0003 described it. The positions moves wrote stay (they are valid positions either way).

COMMENT ON COLUMN projects.tasks.position IS 'Fractional ordering key within (project_id, status) on the board.';
DROP INDEX projects.tasks_project_id_position_number_idx;
DROP INDEX projects.tasks_search_vector_idx;
ALTER TABLE projects.tasks DROP COLUMN search_vector;
