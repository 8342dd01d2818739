//! `Violation::of` against a migrated database: every constraint it names exists and is the
//! one PostgreSQL reports for the statement that breaks it. Renaming a constraint in a
//! migration fails here, not as a service's 409 or 422 quietly becoming a 500.

use db::Violation;
use sqlx::PgPool;

/// Alice, her project `atlas` with one epic and one file, and one ingested document: the
/// rows the statements below collide with. Fixed ids keep the statements plain literals.
const FIXTURE: &str = "
    INSERT INTO auth.users (id, email, username, full_name, password_hash, github_id)
    VALUES ('a0000000-0000-0000-0000-000000000001', 'alice@example.com', 'alice', 'Alice', 'x', '1001');

    INSERT INTO projects.projects (id, owner_id, name, slug)
    VALUES ('b0000000-0000-0000-0000-000000000001', 'a0000000-0000-0000-0000-000000000001', 'Atlas', 'atlas');

    INSERT INTO projects.epics (project_id, title)
    VALUES ('b0000000-0000-0000-0000-000000000001', 'Launch');

    INSERT INTO projects.project_files (project_id, path, version, size_bytes, sha256, storage_key)
    VALUES ('b0000000-0000-0000-0000-000000000001', 'notes.md', 1, 1, repeat('0', 64), 'k/1');

    INSERT INTO memory.documents (owner_id, source, external_id)
    VALUES ('a0000000-0000-0000-0000-000000000001', 'github', 'readme');
";

// Insert prefixes: each case below adds the row's remaining values.
const USER: &str =
    "INSERT INTO auth.users (email, username, full_name, password_hash, github_id) VALUES";
const PROJECT: &str = "INSERT INTO projects.projects (owner_id, name, slug)
    VALUES ('a0000000-0000-0000-0000-000000000001',";
const EPIC: &str =
    "INSERT INTO projects.epics (project_id, title, position, start_date, target_date)
    VALUES ('b0000000-0000-0000-0000-000000000001',";
const TASK: &str = "INSERT INTO projects.tasks
    (project_id, number, title, position, estimate, epic_id, assignee_id, status, completed_at)
    VALUES ('b0000000-0000-0000-0000-000000000001', 1,";
const FILE: &str = "INSERT INTO projects.project_files
    (project_id, path, version, size_bytes, mime_type, is_latest, sha256, storage_key)
    VALUES ('b0000000-0000-0000-0000-000000000001',";
const NOBODY: &str = "'f0000000-0000-0000-0000-00000000000f'";

/// The constraint each statement breaks, by its name in `database/migrations` (so both names
/// of a pair are covered and none is shadowed by another), the statement, and its meaning.
#[rustfmt::skip]
fn cases() -> Vec<(&'static str, String, Violation)> {
    use Violation::*;
    vec![
        ("users_email_key", format!("{USER} ('alice@example.com', 'bob', 'Bob', 'x', NULL)"), EmailTaken),
        ("users_email_lower_key", format!("{USER} ('ALICE@example.com', 'bob', 'Bob', 'x', NULL)"), EmailTaken),
        ("users_username_key", format!("{USER} ('bob@example.com', 'alice', 'Bob', 'x', NULL)"), UsernameTaken),
        ("users_username_lower_key", format!("{USER} ('bob@example.com', 'Alice', 'Bob', 'x', NULL)"), UsernameTaken),
        ("users_github_id_key", format!("{USER} ('bob@example.com', 'bob', 'Bob', 'x', '1001')"), GithubAccountLinked),

        ("projects_owner_id_slug_key", format!("{PROJECT} 'Atlas again', 'atlas')"), ProjectSlugTaken),
        ("projects_name_check", format!("{PROJECT} '   ', 'blank')"), InvalidProjectName),
        ("projects_slug_check", format!("{PROJECT} 'Spaces', 'not a slug')"), InvalidProjectSlug),

        ("epics_title_check", format!("{EPIC} '', 0, NULL, NULL)"), InvalidEpicTitle),
        ("epics_target_date_check", format!("{EPIC} 'Late', 0, '2025-02-01', '2025-01-01')"), EpicTargetBeforeStart),
        ("epics_position_check", format!("{EPIC} 'Far', 'Infinity', NULL, NULL)"), NonFinitePosition),

        ("tasks_title_check", format!("{TASK} '', 0, NULL, NULL, NULL, 'todo', NULL)"), InvalidTaskTitle),
        ("tasks_position_check", format!("{TASK} 'Lost', 'NaN', NULL, NULL, NULL, 'todo', NULL)"), NonFinitePosition),
        ("tasks_estimate_check", format!("{TASK} 'Owed', 0, -1, NULL, NULL, 'todo', NULL)"), NegativeEstimate),
        ("tasks_epic_id_fkey", format!("{TASK} 'Orphan', 0, NULL, {NOBODY}, NULL, 'todo', NULL)"), UnknownEpic),
        ("tasks_assignee_id_fkey", format!("{TASK} 'Ghost', 0, NULL, NULL, {NOBODY}, 'todo', NULL)"), UnknownAssignee),
        ("tasks_completed_at_check", format!("{TASK} 'Half', 0, NULL, NULL, NULL, 'todo', now())"), CompletedTaskStillOpen),

        ("project_files_path_check", format!("{FILE} '../secret', 1, 1, 'text/plain', true, repeat('0', 64), 'k/2')"), InvalidFilePath),
        ("project_files_mime_type_check", format!("{FILE} 'a.md', 1, 1, 'not a type', true, repeat('0', 64), 'k/2')"), InvalidFileMimeType),
        ("project_files_size_bytes_check", format!("{FILE} 'a.md', 1, 10485761, 'text/plain', true, repeat('0', 64), 'k/2')"), FileTooLarge),
        // Not the latest, so only the version key can fire; then a new version, so only the latest key.
        ("project_files_project_id_path_version_key", format!("{FILE} 'notes.md', 1, 1, 'text/plain', false, repeat('0', 64), 'k/2')"), FileVersionTaken),
        ("project_files_project_id_path_latest_key", format!("{FILE} 'notes.md', 2, 1, 'text/plain', true, repeat('0', 64), 'k/2')"), FileVersionTaken),

        ("documents_owner_source_external_id_key", "INSERT INTO memory.documents (owner_id, source, external_id)
            VALUES ('a0000000-0000-0000-0000-000000000001', 'github', 'readme')".to_owned(), DocumentExternalIdTaken),
    ]
}

fn constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error()?.constraint()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn every_mapped_constraint_is_classified_by_meaning(pool: PgPool) {
    sqlx::raw_sql(FIXTURE)
        .execute(&pool)
        .await
        .expect("fixture");

    // All cases run before asserting, so one renamed constraint shows every broken mapping.
    let mut wrong = Vec::new();
    for (expected_constraint, statement, expected) in cases() {
        let outcome = match sqlx::query(&statement).execute(&pool).await {
            Ok(_) => format!("succeeded: {statement}"),
            Err(error) if constraint(&error) != Some(expected_constraint) => {
                format!("broke {:?} instead: {error}", constraint(&error))
            }
            Err(error) => match Violation::of(&error) {
                Some(violation) if violation == expected => continue,
                other => format!("classified as {other:?}, not {expected:?}"),
            },
        };
        wrong.push(format!("{expected_constraint}: {outcome}"));
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn other_errors_are_not_the_callers_doing(pool: PgPool) {
    sqlx::raw_sql(FIXTURE)
        .execute(&pool)
        .await
        .expect("fixture");

    // A role outside the list: only a buggy query writes one, so it stays a 500.
    let error = sqlx::query("UPDATE auth.users SET role = 'root' WHERE username = 'alice'")
        .execute(&pool)
        .await
        .expect_err("role root is rejected");
    assert_eq!(constraint(&error), Some("users_role_check"));
    assert_eq!(Violation::of(&error), None);

    let error = sqlx::query("SELECT no_such_column FROM auth.users")
        .execute(&pool)
        .await
        .expect_err("bad SQL");
    assert_eq!(Violation::of(&error), None);
    assert_eq!(Violation::of(&sqlx::Error::RowNotFound), None);
}
