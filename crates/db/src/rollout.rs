//! How a migration may be rolled out next to running services, read from its name.
//!
//! A rolling deploy has old and new replicas up at once, so most migrations must reach the
//! database without making either side not-ready:
//!
//! - `NNNN_expand_<what>` only **adds** (tables, nullable columns, indexes). It is applied
//!   before the new build rolls out; builds that do not know it keep running, because
//!   nothing they use changed.
//! - `NNNN_contract_<what>` only **removes** what the previous release already stopped using.
//!   It is applied after the build that carries it rolled out; that build runs before it
//!   is applied, because it no longer uses what the migration removes.
//! - Anything else is a lockstep change: services run only at exactly their build's version.
//!
//! The marking sits in the file name so that the database's own history carries it (sqlx
//! records the name as the migration's description): an older build can tell an expand-only
//! migration it has never seen from one that would break it. [`violations`] guards the
//! marking against statements that contradict it; review remains the rule.

use std::fmt;

/// A migration's rollout rule; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    Expand,
    Contract,
    Lockstep,
}

impl Rollout {
    /// From sqlx's description of a migration (its file name without the version, with
    /// spaces for underscores): `expand add task watchers` is [`Rollout::Expand`].
    pub fn of(description: &str) -> Self {
        match description.split_whitespace().next() {
            Some("expand") => Self::Expand,
            Some("contract") => Self::Contract,
            _ => Self::Lockstep,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expand => "expand",
            Self::Contract => "contract",
            Self::Lockstep => "lockstep",
        }
    }
}

impl fmt::Display for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Statements of an up migration that contradict its marking, each described in one line;
/// empty when it keeps to it (and always for lockstep migrations).
pub fn violations(rollout: Rollout, up_sql: &str) -> Vec<String> {
    statements(up_sql)
        .into_iter()
        .filter_map(|statement| {
            let reason = match rollout {
                Rollout::Expand => expand_breaker(&statement),
                Rollout::Contract => (!only_removes(&statement))
                    .then_some("a contract migration may only drop what is no longer used"),
                Rollout::Lockstep => None,
            }?;
            Some(format!("{reason}: `{}`", abbreviate(&statement)))
        })
        .collect()
}

/// What an expand-only migration must not do, because a build that does not know it would
/// then fail: lose something it reads, or be refused a write it makes.
fn expand_breaker(statement: &str) -> Option<&'static str> {
    let has = |words: &str| statement.contains(words);
    if statement.starts_with("DROP ") || has(" DROP ") {
        Some("an expand migration must not drop anything")
    } else if has(" RENAME ") {
        Some("an expand migration must not rename anything")
    } else if statement.starts_with("TRUNCATE ") || statement.starts_with("DELETE ") {
        Some("an expand migration must not remove rows")
    } else if has(" SET NOT NULL") || (has(" ADD COLUMN ") && has(" NOT NULL") && !has(" DEFAULT "))
    {
        Some("an expand migration must not add a NOT NULL requirement old writers do not meet")
    } else if has(" ALTER COLUMN ") && has(" TYPE ") {
        Some("an expand migration must not change a column's type")
    } else if has(" ADD CONSTRAINT ") || statement.starts_with("CREATE UNIQUE INDEX ") {
        Some("an expand migration must not add a constraint to existing rows and writers")
    } else {
        None
    }
}

fn only_removes(statement: &str) -> bool {
    statement.starts_with("DROP ")
        || statement.starts_with("COMMENT ")
        || (statement.starts_with("ALTER TABLE ")
            && statement.contains(" DROP ")
            && !statement.contains(" ADD "))
}

/// The statements of a migration with comments and string literals removed, upper-cased,
/// white space folded, with a trailing space so that word checks like `" DROP "` also match
/// at the end.
fn statements(sql: &str) -> Vec<String> {
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ");
    // Every other piece between quotes is a literal ('it''s' splits into two, both dropped).
    let code: String = code.split('\'').step_by(2).collect::<Vec<_>>().join("''");
    code.split(';')
        .map(|statement| {
            let words: Vec<&str> = statement.split_whitespace().collect();
            format!("{} ", words.join(" ").to_uppercase())
        })
        .filter(|statement| !statement.trim().is_empty())
        .collect()
}

fn abbreviate(statement: &str) -> String {
    let statement = statement.trim();
    match statement.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &statement[..cut]),
        None => statement.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marking_is_the_first_word_of_the_description() {
        assert_eq!(Rollout::of("expand add task watchers"), Rollout::Expand);
        assert_eq!(Rollout::of("contract drop legacy flag"), Rollout::Contract);
        assert_eq!(Rollout::of("create auth schema"), Rollout::Lockstep);
        assert_eq!(Rollout::of("expanded search"), Rollout::Lockstep);
    }

    #[test]
    fn additions_keep_an_expand_migration_expand_only() {
        let sql = "-- watchers: who follows a task\n\
                   CREATE TABLE projects.task_watchers (task_id UUID NOT NULL, user_id UUID NOT NULL);\n\
                   ALTER TABLE projects.tasks ADD COLUMN watch_count INTEGER;\n\
                   ALTER TABLE projects.tasks ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;\n\
                   CREATE INDEX tasks_archived_idx ON projects.tasks (archived);\n\
                   COMMENT ON TABLE projects.task_watchers IS 'drop nothing';";
        assert_eq!(violations(Rollout::Expand, sql), Vec::<String>::new());
    }

    #[test]
    fn removals_and_new_requirements_break_an_expand_migration() {
        for sql in [
            "DROP TABLE projects.task_watchers",
            "ALTER TABLE projects.tasks DROP COLUMN estimate",
            "ALTER TABLE projects.tasks RENAME COLUMN title TO name",
            "ALTER TABLE projects.tasks ALTER COLUMN estimate SET NOT NULL",
            "ALTER TABLE projects.tasks ADD COLUMN owner UUID NOT NULL",
            "ALTER TABLE projects.tasks ALTER COLUMN estimate TYPE BIGINT",
            "ALTER TABLE projects.tasks ADD CONSTRAINT tasks_estimate_check CHECK (estimate > 0)",
            "CREATE UNIQUE INDEX tasks_title_key ON projects.tasks (title)",
            "delete from projects.tasks",
        ] {
            assert_eq!(violations(Rollout::Expand, sql).len(), 1, "{sql}");
        }
    }

    #[test]
    fn a_contract_migration_only_drops() {
        let drops = "DROP INDEX projects.tasks_archived_idx;\n\
                     ALTER TABLE projects.tasks DROP COLUMN archived;";
        assert_eq!(violations(Rollout::Contract, drops), Vec::<String>::new());
        let adds = "ALTER TABLE projects.tasks ADD COLUMN archived BOOLEAN";
        assert_eq!(violations(Rollout::Contract, adds).len(), 1);
    }

    #[test]
    fn lockstep_migrations_may_do_anything() {
        assert!(violations(Rollout::Lockstep, "DROP SCHEMA auth RESTRICT").is_empty());
    }
}
