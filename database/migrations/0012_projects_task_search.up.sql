-- Full-text search over tasks, and the board order made one order per project.
--
-- search_vector is STORED (computed on write, not per query) so the GIN index and ts_rank read
-- it directly. Config 'english': task text is English prose, so stemming lets "crash" find
-- "crashes" and "crashed", and stop words ("the", "a") do not match every task; the same
-- config must be named in every websearch_to_tsquery, or stems would not meet. Title words
-- weigh A and description words B, so a title hit ranks above a description hit.
ALTER TABLE projects.tasks
    ADD COLUMN search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, title), 'A')
        || setweight(to_tsvector('english'::regconfig, description), 'B')
    ) STORED;
COMMENT ON COLUMN projects.tasks.search_vector IS
    'Title (weight A) and description (weight B) as an english tsvector; match with websearch_to_tsquery(''english'', ...).';

-- Search candidates among live tasks; the project filter is applied to what the index finds.
CREATE INDEX tasks_search_vector_idx
    ON projects.tasks USING gin (search_vector) WHERE deleted_at IS NULL;

-- Moves place a task before or after any other task of the project, so position orders the
-- whole project (a status column shows its tasks in that order), ties broken by number. This
-- index serves the board listing, a move's neighbour lookup and create's max(position).
CREATE INDEX tasks_project_id_position_number_idx
    ON projects.tasks (project_id, position, number) WHERE deleted_at IS NULL;
COMMENT ON COLUMN projects.tasks.position IS
    'Fractional ordering key over the project''s live tasks (ties by number): a move takes the midpoint of its neighbours, and renumbers the project 1024, 2048, ... when the gap gets too small.';
