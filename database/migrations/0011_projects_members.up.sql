-- Project members: people other than the owner who work in a project, each with one role.
-- The owner stays implicit (projects.owner_id) and never has a row here; the service keeps
-- that true, since every membership change holds the project's row lock.

CREATE TABLE projects.project_members (
    project_id UUID NOT NULL,
    user_id    UUID NOT NULL,
    role       TEXT NOT NULL,
    added_by   UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT project_members_pkey PRIMARY KEY (project_id, user_id),
    CONSTRAINT project_members_project_id_fkey FOREIGN KEY (project_id)
        REFERENCES projects.projects (id) ON DELETE CASCADE,
    -- A deleted account leaves every project it was a member of.
    CONSTRAINT project_members_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES auth.users (id) ON DELETE CASCADE,
    CONSTRAINT project_members_added_by_fkey FOREIGN KEY (added_by)
        REFERENCES auth.users (id) ON DELETE SET NULL,
    -- Ordered by power: viewer < editor < maintainer (< the implicit owner).
    CONSTRAINT project_members_role_check CHECK (role IN ('viewer', 'editor', 'maintainer'))
);
COMMENT ON TABLE projects.project_members IS 'Who besides the owner works in a project, and with which role (viewer, editor, maintainer).';
COMMENT ON COLUMN projects.project_members.added_by IS 'Who last set this membership; NULL once that account is deleted.';

-- "Projects I am a member of"; the primary key serves per-project lookups.
CREATE INDEX project_members_user_id_project_id_idx
    ON projects.project_members (user_id, project_id);
CREATE INDEX project_members_added_by_idx
    ON projects.project_members (added_by) WHERE added_by IS NOT NULL;

CREATE TRIGGER update_projects_project_members_updated_at
    BEFORE UPDATE ON projects.project_members
    FOR EACH ROW
    EXECUTE FUNCTION public.update_updated_at_column();
