-- Development-only seed data: three users, two projects with epics and tasks, two memory documents.
-- NEVER load into staging or production: the passwords below are public. Idempotent (fixed UUIDs +
-- ON CONFLICT DO NOTHING), so it can be re-run at will:
--   psql -v ON_ERROR_STOP=1 -f database/seeds/development.sql "$DATABASE_URL"
--
-- Dev logins (argon2id, m=19456,t=2,p=1):
--   alice@devmentor.local  username alice  role admin        password devmentor-alice
--   bob@devmentor.local    username bob    role user         password devmentor-bob
--   carol@devmentor.local  username carol  role super_admin  password devmentor-carol
--
-- Fixed id scheme: the first digit names the table (1 users, 2 projects, 3 epics, 4 tasks,
-- 5 activity, 6 documents, 7 chunks); the last digits number the row.

BEGIN;

-- ---------------------------------------------------------------------------------------------
-- auth.users
-- ---------------------------------------------------------------------------------------------
INSERT INTO auth.users (id, email, username, full_name, password_hash, role, is_active, is_verified)
VALUES
    ('10000000-0000-4000-8000-000000000001', 'alice@devmentor.local', 'alice', 'Alice Admin',
     '$argon2id$v=19$m=19456,t=2,p=1$9zPSddwUKxZlSKzreZzFTA$qPuEv9uHxD2y2pxx9D1Q6W3I3A5cP62e05o5cu1TJAg',
     'admin', true, true),
    ('10000000-0000-4000-8000-000000000002', 'bob@devmentor.local', 'bob', 'Bob Builder',
     '$argon2id$v=19$m=19456,t=2,p=1$mZ6Jq3+euU8U0+D8TgOFBg$UdPK3IMknq6gLlWXMlwNsg+tRMfNdLT5kxCuGq2SfnU',
     'user', true, true),
    ('10000000-0000-4000-8000-000000000003', 'carol@devmentor.local', 'carol', 'Carol Root',
     '$argon2id$v=19$m=19456,t=2,p=1$mlo3J2WiHodfZd/LGnyNIQ$rzv1ZeJlNBJ3Tjj0FrC2JTeh+mKIJVOaFyFInjSb8Sk',
     'super_admin', true, true)
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- projects.projects (task_counter = highest task number seeded below)
-- ---------------------------------------------------------------------------------------------
INSERT INTO projects.projects (id, owner_id, name, slug, description, status, task_counter, created_at)
VALUES
    ('20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
     'DevMentor API', 'devmentor-api',
     'Rust services behind the DevMentor platform: auth, projects, memory and the gateway.',
     'active', 8, now() - interval '30 days'),
    ('20000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
     'Rust Learning Path', 'rust-learning-path',
     'Bob''s guided path from ownership basics to async services.',
     'active', 4, now() - interval '20 days')
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- projects.epics
-- ---------------------------------------------------------------------------------------------
INSERT INTO projects.epics (id, project_id, title, description, status, position, start_date, target_date, created_at)
VALUES
    ('30000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     'Authentication', 'Login, sessions, lockout and audit trail.', 'in_progress', 1000,
     current_date - 21, current_date + 7, now() - interval '29 days'),
    ('30000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     'RAG memory', 'Document ingestion, chunking and Qdrant search.', 'planned', 2000,
     current_date + 7, current_date + 35, now() - interval '28 days'),
    ('30000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000002',
     'Ownership and borrowing', 'Chapters 4 and 10 of the book, with exercises.', 'done', 1000,
     current_date - 20, current_date - 10, now() - interval '20 days'),
    ('30000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000002',
     'Async Rust', 'Tokio, futures and a first axum service.', 'in_progress', 2000,
     current_date - 9, current_date + 14, now() - interval '19 days')
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- projects.tasks
-- ---------------------------------------------------------------------------------------------
INSERT INTO projects.tasks (id, project_id, epic_id, number, title, description, status, priority,
                            assignee_id, reporter_id, position, due_date, estimate, labels,
                            completed_at, created_at)
VALUES
    -- DevMentor API (alice), numbers 1..8
    ('40000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000001', 1, 'Write canonical migrations',
     'sqlx reversible migrations for auth, projects and memory.', 'done', 'high',
     '10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
     1000, NULL, 3, ARRAY['database'], now() - interval '25 days', now() - interval '29 days'),
    ('40000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000001', 2, 'Argon2id password hashing',
     'Hash in spawn_blocking behind a semaphore.', 'done', 'high',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000001',
     2000, NULL, 2, ARRAY['security', 'auth'], now() - interval '20 days', now() - interval '28 days'),
    ('40000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000001', 3, 'Lock account after five failed logins',
     'Use failed_login_attempts and locked_until.', 'in_review', 'urgent',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000003',
     1000, current_date + 2, 2, ARRAY['security', 'auth'], NULL, now() - interval '27 days'),
    ('40000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000001', 4, 'Refresh token rotation',
     'Revoke the old session on refresh; detect reuse.', 'in_progress', 'high',
     '10000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001',
     1000, current_date + 5, 3, ARRAY['auth'], NULL, now() - interval '26 days'),
    ('40000000-0000-4000-8000-000000000005', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000002', 5, 'Chunk documents for embedding',
     'Split on headings, then by token budget.', 'todo', 'medium',
     NULL, '10000000-0000-4000-8000-000000000001',
     1000, current_date + 14, 5, ARRAY['memory'], NULL, now() - interval '25 days'),
    ('40000000-0000-4000-8000-000000000006', '20000000-0000-4000-8000-000000000001',
     '30000000-0000-4000-8000-000000000002', 6, 'Upsert chunk vectors into Qdrant',
     'Point id = chunk id.', 'backlog', 'medium',
     NULL, '10000000-0000-4000-8000-000000000001',
     1000, NULL, 3, ARRAY['memory', 'qdrant'], NULL, now() - interval '24 days'),
    ('40000000-0000-4000-8000-000000000007', '20000000-0000-4000-8000-000000000001',
     NULL, 7, 'Health endpoints for every service',
     '/health/live and /health/ready.', 'todo', 'low',
     '10000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000003',
     2000, NULL, 1, ARRAY['ops'], NULL, now() - interval '23 days'),
    ('40000000-0000-4000-8000-000000000008', '20000000-0000-4000-8000-000000000001',
     NULL, 8, 'Evaluate node-pg-migrate',
     'Superseded: the platform is Rust, migrations run through sqlx.', 'cancelled', 'none',
     NULL, '10000000-0000-4000-8000-000000000001',
     1000, NULL, NULL, '{}', now() - interval '22 days', now() - interval '23 days'),
    -- Rust Learning Path (bob), numbers 1..4
    ('40000000-0000-4000-8000-000000000009', '20000000-0000-4000-8000-000000000002',
     '30000000-0000-4000-8000-000000000003', 1, 'Finish the borrow checker exercises',
     '', 'done', 'medium',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
     1000, NULL, 2, ARRAY['learning'], now() - interval '12 days', now() - interval '20 days'),
    ('40000000-0000-4000-8000-000000000010', '20000000-0000-4000-8000-000000000002',
     '30000000-0000-4000-8000-000000000004', 2, 'Build a TODO API with axum',
     'With sqlx and a Postgres test database.', 'in_progress', 'high',
     '10000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000002',
     1000, current_date + 10, 5, ARRAY['learning', 'axum'], NULL, now() - interval '9 days'),
    ('40000000-0000-4000-8000-000000000011', '20000000-0000-4000-8000-000000000002',
     '30000000-0000-4000-8000-000000000004', 3, 'Read about Pin and Unpin',
     '', 'todo', 'low',
     NULL, '10000000-0000-4000-8000-000000000002',
     1000, NULL, 1, ARRAY['learning'], NULL, now() - interval '8 days'),
    ('40000000-0000-4000-8000-000000000012', '20000000-0000-4000-8000-000000000002',
     NULL, 4, 'Pick a capstone project',
     '', 'backlog', 'none',
     NULL, '10000000-0000-4000-8000-000000000002',
     1000, NULL, NULL, '{}', NULL, now() - interval '7 days')
ON CONFLICT DO NOTHING;

-- Keep task_counter ahead of every seeded number even if a project row pre-existed (no-op otherwise).
UPDATE projects.projects AS p
SET task_counter = t.max_number
FROM (SELECT project_id, max(number) AS max_number FROM projects.tasks GROUP BY project_id) AS t
WHERE p.id = t.project_id
  AND p.id IN ('20000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000002')
  AND p.task_counter < t.max_number;

-- ---------------------------------------------------------------------------------------------
-- projects.project_activity
-- ---------------------------------------------------------------------------------------------
INSERT INTO projects.project_activity (id, project_id, actor_id, action, entity_type, entity_id, details, created_at)
VALUES
    ('50000000-0000-4000-8000-000000000001', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000001', 'project.created', 'project',
     '20000000-0000-4000-8000-000000000001', '{}', now() - interval '30 days'),
    ('50000000-0000-4000-8000-000000000002', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000001', 'task.created', 'task',
     '40000000-0000-4000-8000-000000000001', '{"number": 1}', now() - interval '29 days'),
    ('50000000-0000-4000-8000-000000000003', '20000000-0000-4000-8000-000000000001',
     '10000000-0000-4000-8000-000000000001', 'task.status_changed', 'task',
     '40000000-0000-4000-8000-000000000001', '{"from": "in_progress", "to": "done"}', now() - interval '25 days'),
    ('50000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000002',
     '10000000-0000-4000-8000-000000000002', 'project.created', 'project',
     '20000000-0000-4000-8000-000000000002', '{}', now() - interval '20 days')
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------------------------------
-- memory.documents and memory.chunks. No vectors yet (qdrant_point_id NULL, no embedding model):
-- the memory service's indexer embeds and indexes pending chunks when it starts.
-- ---------------------------------------------------------------------------------------------
INSERT INTO memory.documents (id, external_id, source, type, path, tags, metadata, owner_id, title, content_hash)
SELECT id, external_id, source, type, path, tags, metadata::jsonb, owner_id::uuid, title,
       encode(sha256(convert_to(body, 'UTF8')), 'hex')
FROM (VALUES
    ('60000000-0000-4000-8000-000000000001'::uuid, 'docs/ownership.md', 'docs', 'document',
     'docs/ownership.md', ARRAY['rust', 'ownership'], '{"lang": "en"}', NULL, 'Ownership in Rust',
     E'Each value in Rust has a single owner.\n\nWhen the owner goes out of scope, the value is dropped.\n\nBorrowing lends access without moving ownership.'),
    ('60000000-0000-4000-8000-000000000002'::uuid, 'notes/axum-state', 'notes', 'note',
     NULL, ARRAY['rust', 'axum'], '{}', '10000000-0000-4000-8000-000000000001', 'Sharing state in axum',
     E'AppState must be Clone; wrap shared resources in Arc.\n\nUse FromRef to extract sub-states in handlers.')
) AS d (id, external_id, source, type, path, tags, metadata, owner_id, title, body)
ON CONFLICT DO NOTHING;

INSERT INTO memory.chunks (id, document_id, chunk_index, content, content_hash, token_count)
SELECT id, document_id, chunk_index, content,
       encode(sha256(convert_to(content, 'UTF8')), 'hex'),
       array_length(regexp_split_to_array(content, '\s+'), 1)
FROM (VALUES
    ('70000000-0000-4000-8000-000000000001'::uuid, '60000000-0000-4000-8000-000000000001'::uuid, 0,
     'Each value in Rust has a single owner.'),
    ('70000000-0000-4000-8000-000000000002'::uuid, '60000000-0000-4000-8000-000000000001'::uuid, 1,
     'When the owner goes out of scope, the value is dropped.'),
    ('70000000-0000-4000-8000-000000000003'::uuid, '60000000-0000-4000-8000-000000000001'::uuid, 2,
     'Borrowing lends access without moving ownership.'),
    ('70000000-0000-4000-8000-000000000004'::uuid, '60000000-0000-4000-8000-000000000002'::uuid, 0,
     'AppState must be Clone; wrap shared resources in Arc.'),
    ('70000000-0000-4000-8000-000000000005'::uuid, '60000000-0000-4000-8000-000000000002'::uuid, 1,
     'Use FromRef to extract sub-states in handlers.')
) AS c (id, document_id, chunk_index, content)
ON CONFLICT DO NOTHING;

COMMIT;
