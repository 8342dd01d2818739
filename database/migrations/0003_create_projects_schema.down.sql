-- Reverts 0003: drops the projects tables in reverse dependency order (their indexes, constraints
-- and triggers go with them), then the now-empty projects schema. No CASCADE.

DROP TABLE projects.project_activity;
DROP TABLE projects.project_files;
DROP TRIGGER update_projects_tasks_updated_at ON projects.tasks;
DROP TABLE projects.tasks;
DROP TRIGGER update_projects_epics_updated_at ON projects.epics;
DROP TABLE projects.epics;
DROP TRIGGER update_projects_projects_updated_at ON projects.projects;
DROP TABLE projects.projects;

DROP SCHEMA projects RESTRICT;
