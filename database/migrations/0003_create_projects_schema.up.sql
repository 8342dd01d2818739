-- Creates the projects schema: projects, epics, tasks, versioned file metadata and the activity feed.
-- Enumerations are TEXT + named CHECK (not enum types) so later migrations can evolve them;
-- `version` columns are for optimistic concurrency (UPDATE ... WHERE id = $1 AND version = $2).

CREATE SCHEMA projects;
COMMENT ON SCHEMA projects IS 'Project tracking: projects, epics, tasks, project file versions and activity history.';

-- ---------------------------------------------------------------------------------------------
-- projects.projects
-- ---------------------------------------------------------------------------------------------
CREATE TABLE projects.projects (
    id           UUID NOT NULL DEFAULT gen_random_uuid(),
    owner_id     UUID NOT NULL,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'active',
    task_counter INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL DEFAULT 1,
    deleted_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT projects_pkey PRIMARY KEY (id),
    -- RESTRICT, not CASCADE: a project owns bytes on disk (project_files.storage_key) that a
    -- database cascade cannot remove. Deleting a user must go through the application, which
    -- transfers or purges the user's projects (and their files) first.
    CONSTRAINT projects_owner_id_fkey FOREIGN KEY (owner_id)
        REFERENCES auth.users (id) ON DELETE RESTRICT,
    CONSTRAINT projects_name_check CHECK (char_length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT projects_slug_check CHECK (
        char_length(slug) <= 100 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'
    ),
    CONSTRAINT projects_status_check CHECK (status IN ('active', 'archived')),
    CONSTRAINT projects_task_counter_check CHECK (task_counter >= 0),
    CONSTRAINT projects_version_check CHECK (version >= 1)
);
COMMENT ON TABLE projects.projects IS 'A user''s project: name, per-owner slug, status and the counter that numbers its tasks.';
COMMENT ON COLUMN projects.projects.task_counter IS
    'Last task number handed out; allocate with UPDATE ... SET task_counter = task_counter + 1 RETURNING task_counter.';
COMMENT ON COLUMN projects.projects.version IS 'Optimistic-concurrency version, bumped by the application on every edit.';

-- Slugs are unique per owner among live projects; a soft-deleted project frees its slug.
CREATE UNIQUE INDEX projects_owner_id_slug_key
    ON projects.projects (owner_id, slug) WHERE deleted_at IS NULL;
-- Keyset pagination of an owner's projects; not partial so it also serves the FK check on user delete.
CREATE INDEX projects_owner_id_created_at_id_idx
    ON projects.projects (owner_id, created_at, id);

CREATE TRIGGER update_projects_projects_updated_at
    BEFORE UPDATE ON projects.projects
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- projects.epics
-- ---------------------------------------------------------------------------------------------
CREATE TABLE projects.epics (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    project_id  UUID NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'planned',
    position    DOUBLE PRECISION NOT NULL DEFAULT 0,
    start_date  DATE,
    target_date DATE,
    version     INTEGER NOT NULL DEFAULT 1,
    deleted_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT epics_pkey PRIMARY KEY (id),
    -- Target of tasks_epic_id_fkey, which pins a task's epic to the task's own project.
    CONSTRAINT epics_project_id_id_key UNIQUE (project_id, id),
    CONSTRAINT epics_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE CASCADE,
    CONSTRAINT epics_title_check CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    CONSTRAINT epics_status_check CHECK (status IN ('planned', 'in_progress', 'done', 'cancelled')),
    -- Finite only: rejects NaN and +/-Infinity, which would break fractional ordering.
    CONSTRAINT epics_position_check CHECK (position > '-Infinity'::float8 AND position < 'Infinity'::float8),
    CONSTRAINT epics_target_date_check CHECK (target_date >= start_date),
    CONSTRAINT epics_version_check CHECK (version >= 1)
);
COMMENT ON TABLE projects.epics IS 'Groups of related tasks within a project, manually ordered, with an optional date range.';
COMMENT ON COLUMN projects.epics.position IS
    'Fractional ordering key: insert between neighbours at (a + b) / 2; renumber when gaps get tiny.';

-- Ordered listing within a project; not partial so it also serves the project-delete cascade.
CREATE INDEX epics_project_id_position_idx ON projects.epics (project_id, position);

CREATE TRIGGER update_projects_epics_updated_at
    BEFORE UPDATE ON projects.epics
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- projects.tasks
-- ---------------------------------------------------------------------------------------------
CREATE TABLE projects.tasks (
    id           UUID NOT NULL DEFAULT gen_random_uuid(),
    project_id   UUID NOT NULL,
    epic_id      UUID,
    number       INTEGER NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'backlog',
    priority     TEXT NOT NULL DEFAULT 'none',
    assignee_id  UUID,
    reporter_id  UUID,
    position     DOUBLE PRECISION NOT NULL DEFAULT 0,
    due_date     DATE,
    estimate     INTEGER,
    labels       TEXT[] NOT NULL DEFAULT '{}',
    completed_at TIMESTAMPTZ,
    version      INTEGER NOT NULL DEFAULT 1,
    deleted_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT tasks_pkey PRIMARY KEY (id),
    -- Task numbers are never reused, so uniqueness includes soft-deleted tasks.
    CONSTRAINT tasks_project_id_number_key UNIQUE (project_id, number),
    CONSTRAINT tasks_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE CASCADE,
    -- Composite so an epic from another project is rejected; deleting the epic only clears epic_id
    -- (PostgreSQL 15 column list), leaving project_id intact.
    CONSTRAINT tasks_epic_id_fkey FOREIGN KEY (project_id, epic_id)
        REFERENCES projects.epics (project_id, id) ON DELETE SET NULL (epic_id),
    -- SET NULL: a task outlives the accounts it mentions.
    CONSTRAINT tasks_assignee_id_fkey FOREIGN KEY (assignee_id)
        REFERENCES auth.users (id) ON DELETE SET NULL,
    CONSTRAINT tasks_reporter_id_fkey FOREIGN KEY (reporter_id)
        REFERENCES auth.users (id) ON DELETE SET NULL,
    CONSTRAINT tasks_number_check CHECK (number >= 1),
    CONSTRAINT tasks_title_check CHECK (char_length(btrim(title)) BETWEEN 1 AND 500),
    CONSTRAINT tasks_status_check CHECK (
        status IN ('backlog', 'todo', 'in_progress', 'in_review', 'done', 'cancelled')
    ),
    CONSTRAINT tasks_priority_check CHECK (priority IN ('none', 'low', 'medium', 'high', 'urgent')),
    CONSTRAINT tasks_position_check CHECK (position > '-Infinity'::float8 AND position < 'Infinity'::float8),
    CONSTRAINT tasks_estimate_check CHECK (estimate >= 0),
    CONSTRAINT tasks_labels_check CHECK (array_position(labels, NULL) IS NULL),
    -- Reopening a task must clear completed_at.
    CONSTRAINT tasks_completed_at_check CHECK (completed_at IS NULL OR status IN ('done', 'cancelled')),
    CONSTRAINT tasks_version_check CHECK (version >= 1)
);
COMMENT ON TABLE projects.tasks IS 'Work items of a project, numbered per project, with workflow status, priority and board position.';
COMMENT ON COLUMN projects.tasks.number IS 'Per-project sequence number (shown as #N), taken from projects.task_counter.';
COMMENT ON COLUMN projects.tasks.position IS 'Fractional ordering key within (project_id, status) on the board.';
COMMENT ON COLUMN projects.tasks.estimate IS 'Estimate in story points.';

-- Board columns: live tasks of a project by status, in board order.
CREATE INDEX tasks_project_id_status_position_idx
    ON projects.tasks (project_id, status, position) WHERE deleted_at IS NULL;
-- Keyset pagination of a project's live tasks.
CREATE INDEX tasks_project_id_created_at_id_idx
    ON projects.tasks (project_id, created_at, id) WHERE deleted_at IS NULL;
-- FK lookups on epic/user delete (col = $1 implies IS NOT NULL, so the partial indexes qualify);
-- the assignee index also serves "my tasks".
CREATE INDEX tasks_epic_id_idx ON projects.tasks (epic_id) WHERE epic_id IS NOT NULL;
CREATE INDEX tasks_assignee_id_idx ON projects.tasks (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX tasks_reporter_id_idx ON projects.tasks (reporter_id) WHERE reporter_id IS NOT NULL;
-- Label filters: labels @> ARRAY['bug'].
CREATE INDEX tasks_labels_idx ON projects.tasks USING gin (labels) WHERE deleted_at IS NULL;

CREATE TRIGGER update_projects_tasks_updated_at
    BEFORE UPDATE ON projects.tasks
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();

-- ---------------------------------------------------------------------------------------------
-- projects.project_files
-- ---------------------------------------------------------------------------------------------
CREATE TABLE projects.project_files (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    project_id  UUID NOT NULL,
    path        TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    size_bytes  BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    mime_type   TEXT NOT NULL DEFAULT 'application/octet-stream',
    storage_key TEXT NOT NULL,
    uploaded_by UUID,
    is_latest   BOOLEAN NOT NULL DEFAULT true,
    deleted_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT project_files_pkey PRIMARY KEY (id),
    -- A concurrent upload of the same path races on this key: map it to 409 and retry.
    CONSTRAINT project_files_project_id_path_version_key UNIQUE (project_id, path, version),
    CONSTRAINT project_files_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE CASCADE,
    CONSTRAINT project_files_uploaded_by_fkey FOREIGN KEY (uploaded_by)
        REFERENCES auth.users (id) ON DELETE SET NULL,
    -- Canonical relative path: 1..1024 chars, not absolute, no '..', '.' or empty segments
    -- (so 'a/./b' and 'a//b' cannot alias 'a/b'), no backslashes or control characters.
    CONSTRAINT project_files_path_check CHECK (
        char_length(path) BETWEEN 1 AND 1024
        AND path !~ '^/'
        AND path !~ '(^|/)\.\.(/|$)'
        AND path !~ '(^|/)\.?(/|$)'
        AND path !~ '[\\[:cntrl:]]'
    ),
    CONSTRAINT project_files_version_check CHECK (version >= 1),
    -- 10 MiB, the platform's MAX_FILE_SIZE.
    CONSTRAINT project_files_size_bytes_check CHECK (size_bytes BETWEEN 0 AND 10485760),
    CONSTRAINT project_files_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT project_files_mime_type_check CHECK (
        char_length(mime_type) <= 255
        AND mime_type ~ '^[[:alnum:]][[:alnum:]!#$&^_.+-]*/[[:alnum:]][[:alnum:]!#$&^_.+-]*(;.*)?$'
    ),
    CONSTRAINT project_files_storage_key_check CHECK (char_length(storage_key) BETWEEN 1 AND 1024)
);
COMMENT ON TABLE projects.project_files IS 'Versioned metadata of files stored under PROJECTS_DIR: one row per (project, path, version).';
COMMENT ON COLUMN projects.project_files.version IS 'File version number (1, 2, ...) of this path, not an optimistic-concurrency counter.';
COMMENT ON COLUMN projects.project_files.storage_key IS 'Location of the bytes in file storage, relative to PROJECTS_DIR (or an object key).';
COMMENT ON COLUMN projects.project_files.is_latest IS 'True on exactly one row per (project_id, path): the current version.';

-- Exactly one current version per path; also the index for listing a project's current files.
CREATE UNIQUE INDEX project_files_project_id_path_latest_key
    ON projects.project_files (project_id, path) WHERE is_latest;
-- Storage garbage collection: is a storage_key still referenced?
CREATE INDEX project_files_storage_key_idx ON projects.project_files (storage_key);
CREATE INDEX project_files_uploaded_by_idx
    ON projects.project_files (uploaded_by) WHERE uploaded_by IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- projects.project_activity
-- ---------------------------------------------------------------------------------------------
CREATE TABLE projects.project_activity (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    project_id  UUID NOT NULL,
    actor_id    UUID,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   UUID NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT project_activity_pkey PRIMARY KEY (id),
    CONSTRAINT project_activity_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE CASCADE,
    -- NULL actor: a system action, or an account deleted since.
    CONSTRAINT project_activity_actor_id_fkey FOREIGN KEY (actor_id)
        REFERENCES auth.users (id) ON DELETE SET NULL,
    -- Dotted lower-case verbs such as 'task.created', 'task.status_changed', 'file.uploaded'.
    CONSTRAINT project_activity_action_check CHECK (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
    CONSTRAINT project_activity_entity_type_check CHECK (entity_type ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT project_activity_details_check CHECK (jsonb_typeof(details) = 'object')
);
COMMENT ON TABLE projects.project_activity IS 'Append-only feed of changes in a project: who did what to which entity, with details.';

-- Keyset pagination of a project's feed; also serves the project-delete cascade.
CREATE INDEX project_activity_project_id_created_at_id_idx
    ON projects.project_activity (project_id, created_at, id);
-- History of one entity (e.g. a task's timeline).
CREATE INDEX project_activity_entity_type_entity_id_idx
    ON projects.project_activity (entity_type, entity_id, created_at);
CREATE INDEX project_activity_actor_id_idx
    ON projects.project_activity (actor_id) WHERE actor_id IS NOT NULL;
