-- Initial data needed in EVERY environment (never dev data, never credentials): reference tables
-- describing the task workflow and priorities, so clients can render boards and pickers from the DB.
-- tasks keep their own CHECK constraints (no FK to these tables), so this migration can always be reverted.

CREATE TABLE projects.task_statuses (
    key      TEXT NOT NULL,
    label    TEXT NOT NULL,
    category TEXT NOT NULL,
    position INTEGER NOT NULL,

    CONSTRAINT task_statuses_pkey PRIMARY KEY (key),
    CONSTRAINT task_statuses_position_key UNIQUE (position),
    -- Same set as tasks_status_check: change both in the same migration.
    CONSTRAINT task_statuses_key_check CHECK (
        key IN ('backlog', 'todo', 'in_progress', 'in_review', 'done', 'cancelled')
    ),
    CONSTRAINT task_statuses_label_check CHECK (char_length(btrim(label)) > 0),
    CONSTRAINT task_statuses_category_check CHECK (
        category IN ('unstarted', 'started', 'completed', 'cancelled')
    )
);
COMMENT ON TABLE projects.task_statuses IS 'Reference: the task workflow statuses, their display label, category and board order.';

INSERT INTO projects.task_statuses (key, label, category, position) VALUES
    ('backlog',     'Backlog',     'unstarted', 1),
    ('todo',        'Todo',        'unstarted', 2),
    ('in_progress', 'In Progress', 'started',   3),
    ('in_review',   'In Review',   'started',   4),
    ('done',        'Done',        'completed', 5),
    ('cancelled',   'Cancelled',   'cancelled', 6);

CREATE TABLE projects.task_priorities (
    key   TEXT NOT NULL,
    label TEXT NOT NULL,
    rank  INTEGER NOT NULL,

    CONSTRAINT task_priorities_pkey PRIMARY KEY (key),
    CONSTRAINT task_priorities_rank_key UNIQUE (rank),
    -- Same set as tasks_priority_check: change both in the same migration.
    CONSTRAINT task_priorities_key_check CHECK (key IN ('none', 'low', 'medium', 'high', 'urgent')),
    CONSTRAINT task_priorities_label_check CHECK (char_length(btrim(label)) > 0)
);
COMMENT ON TABLE projects.task_priorities IS 'Reference: task priorities with display label and rank (higher rank = more urgent).';

INSERT INTO projects.task_priorities (key, label, rank) VALUES
    ('none',   'No priority', 0),
    ('low',    'Low',         1),
    ('medium', 'Medium',      2),
    ('high',   'High',        3),
    ('urgent', 'Urgent',      4);
