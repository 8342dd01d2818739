-- Reverts 0013: no more announcements or sequence numbers; the rows stay.

DROP TRIGGER notify_project_activity ON projects.project_activity;
DROP FUNCTION projects.notify_project_activity();
DROP INDEX projects.project_activity_project_id_seq_idx;
ALTER TABLE projects.project_activity DROP COLUMN seq;
