-- Reverts 0005: drops the two reference tables (and their rows). No user data lives in them,
-- and nothing references them, so this always succeeds.

DROP TABLE projects.task_priorities;
DROP TABLE projects.task_statuses;
