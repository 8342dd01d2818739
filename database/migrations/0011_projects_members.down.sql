-- Reverts 0011: memberships are dropped; projects keep their owners.

DROP TABLE projects.project_members;
