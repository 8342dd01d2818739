-- Live updates: every activity row gets a commit-ordered sequence number, and its insert
-- tells listening project services about it (LISTEN project_activity), so each replica can
-- stream the changes any replica commits.

-- Within one project, rows are inserted under the project's row lock, which is held until
-- commit, so `seq` order is commit order there: a stream that resumes "after seq N" misses
-- nothing (`created_at` is the transaction's start time and has no such guarantee).
ALTER TABLE projects.project_activity
    ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
COMMENT ON COLUMN projects.project_activity.seq IS
    'Insert order; within a project also commit order (writers hold the project row lock). Streams resume after it.';

CREATE INDEX project_activity_project_id_seq_idx ON projects.project_activity (project_id, seq);

-- The payload is only "<project_id> <seq>": listeners read the rows themselves, so the
-- 8000-byte NOTIFY limit never meets a large `details`. Sent at commit, never for a rollback.
CREATE FUNCTION projects.notify_project_activity() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('project_activity', NEW.project_id::text || ' ' || NEW.seq::text);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION projects.notify_project_activity() IS
    'Announces a new activity row on channel project_activity as "<project_id> <seq>".';

CREATE TRIGGER notify_project_activity
    AFTER INSERT ON projects.project_activity
    FOR EACH ROW
    EXECUTE FUNCTION projects.notify_project_activity();
