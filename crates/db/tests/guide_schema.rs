//! The design guide's DDL (shared/reference/postgres-migration-guide.md, auth and memory
//! schemas) exists as designed after migrating: columns, defaults, indexes, checks, trigger.

use std::collections::HashMap;

use sqlx::{PgExecutor, PgPool};

/// The guide declares the column NOT NULL (a PRIMARY KEY column is NOT NULL too).
const NOT_NULL: bool = true;
/// The guide leaves the column nullable; a later migration may tighten it.
const NULLABLE: bool = false;

/// Every column of the guide's DDL: (table, column, type, default as PostgreSQL renders it,
/// NOT NULL in the guide). Types are information_schema's names. Migrations may add columns
/// and NOT NULL, but must keep each type and default, and every NOT NULL the guide declares.
#[rustfmt::skip]
const GUIDE_COLUMNS: &[(&str, &str, &str, Option<&str>, bool)] = &[
    ("auth.users", "id",                    "uuid",                     Some("gen_random_uuid()"), NOT_NULL),
    ("auth.users", "email",                 "character varying(255)",   None,                      NOT_NULL),
    ("auth.users", "username",              "character varying(50)",    None,                      NOT_NULL),
    ("auth.users", "full_name",             "character varying(255)",   None,                      NOT_NULL),
    ("auth.users", "password_hash",         "text",                     None,                      NOT_NULL),
    ("auth.users", "role",                  "character varying(20)",    Some("'user'::character varying"), NOT_NULL),
    ("auth.users", "is_active",             "boolean",                  Some("true"),              NULLABLE),
    ("auth.users", "is_verified",           "boolean",                  Some("false"),             NULLABLE),
    ("auth.users", "github_id",             "character varying(50)",    None,                      NULLABLE),
    ("auth.users", "avatar_url",            "text",                     None,                      NULLABLE),
    ("auth.users", "last_login_at",         "timestamp with time zone", None,                      NULLABLE),
    ("auth.users", "failed_login_attempts", "integer",                  Some("0"),                 NULLABLE),
    ("auth.users", "locked_until",          "timestamp with time zone", None,                      NULLABLE),
    ("auth.users", "created_at",            "timestamp with time zone", Some("now()"),             NULLABLE),
    ("auth.users", "updated_at",            "timestamp with time zone", Some("now()"),             NULLABLE),

    ("auth.user_sessions", "id",            "uuid",                     Some("gen_random_uuid()"), NOT_NULL),
    ("auth.user_sessions", "user_id",       "uuid",                     None,                      NOT_NULL),
    ("auth.user_sessions", "session_token", "text",                     None,                      NOT_NULL),
    ("auth.user_sessions", "refresh_token", "text",                     None,                      NOT_NULL),
    ("auth.user_sessions", "ip_address",    "inet",                     None,                      NULLABLE),
    ("auth.user_sessions", "user_agent",    "text",                     None,                      NULLABLE),
    ("auth.user_sessions", "expires_at",    "timestamp with time zone", None,                      NOT_NULL),
    ("auth.user_sessions", "created_at",    "timestamp with time zone", Some("now()"),             NULLABLE),

    ("auth.audit_log", "id",                "uuid",                     Some("gen_random_uuid()"), NOT_NULL),
    ("auth.audit_log", "user_id",           "uuid",                     None,                      NULLABLE),
    ("auth.audit_log", "action",            "character varying(100)",   None,                      NOT_NULL),
    ("auth.audit_log", "ip_address",        "inet",                     None,                      NULLABLE),
    ("auth.audit_log", "user_agent",        "text",                     None,                      NULLABLE),
    ("auth.audit_log", "success",           "boolean",                  None,                      NOT_NULL),
    ("auth.audit_log", "details",           "jsonb",                    None,                      NULLABLE),
    ("auth.audit_log", "created_at",        "timestamp with time zone", Some("now()"),             NULLABLE),

    ("memory.documents", "id",              "uuid",                     Some("gen_random_uuid()"), NOT_NULL),
    ("memory.documents", "external_id",     "character varying(255)",   None,                      NULLABLE),
    ("memory.documents", "source",          "character varying(100)",   None,                      NOT_NULL),
    ("memory.documents", "type",            "character varying(50)",    Some("'document'::character varying"), NULLABLE),
    ("memory.documents", "path",            "text",                     None,                      NULLABLE),
    ("memory.documents", "tags",            "ARRAY of text",            Some("'{}'::text[]"),      NULLABLE),
    ("memory.documents", "metadata",        "jsonb",                    Some("'{}'::jsonb"),       NULLABLE),
    ("memory.documents", "created_at",      "timestamp with time zone", Some("now()"),             NULLABLE),
    ("memory.documents", "updated_at",      "timestamp with time zone", Some("now()"),             NULLABLE),

    ("memory.chunks", "id",                 "uuid",                     Some("gen_random_uuid()"), NOT_NULL),
    ("memory.chunks", "document_id",        "uuid",                     None,                      NULLABLE),
    ("memory.chunks", "chunk_index",        "integer",                  None,                      NOT_NULL),
    ("memory.chunks", "content",            "text",                     None,                      NOT_NULL),
    ("memory.chunks", "qdrant_point_id",    "uuid",                     None,                      NULLABLE),
    ("memory.chunks", "embedding_model",    "character varying(100)",   None,                      NULLABLE),
    ("memory.chunks", "score",              "double precision",         None,                      NULLABLE),
    ("memory.chunks", "metadata",           "jsonb",                    Some("'{}'::jsonb"),       NULLABLE),
    ("memory.chunks", "created_at",         "timestamp with time zone", Some("now()"),             NULLABLE),
];

/// The guide's named indexes: (index, table, indexed column).
#[rustfmt::skip]
const GUIDE_INDEXES: &[(&str, &str, &str)] = &[
    ("idx_auth_users_email",          "auth.users",         "email"),
    ("idx_auth_users_username",       "auth.users",         "username"),
    ("idx_auth_sessions_user_id",     "auth.user_sessions", "user_id"),
    ("idx_auth_sessions_token",       "auth.user_sessions", "session_token"),
    ("idx_auth_audit_user_id",        "auth.audit_log",     "user_id"),
    ("idx_auth_audit_created_at",     "auth.audit_log",     "created_at"),
    ("idx_memory_documents_source",   "memory.documents",   "source"),
    ("idx_memory_documents_type",     "memory.documents",   "type"),
    ("idx_memory_chunks_document_id", "memory.chunks",      "document_id"),
    ("idx_memory_chunks_qdrant_id",   "memory.chunks",      "qdrant_point_id"),
];

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn guide_columns_keep_their_types_defaults_and_nullability(pool: PgPool) {
    let rows = sqlx::query!(
        r#"
        SELECT table_schema::text || '.' || table_name::text AS "table!",
               column_name::text AS "column!",
               CASE WHEN data_type = 'ARRAY' THEN 'ARRAY of ' || ltrim(udt_name::text, '_')
                    WHEN character_maximum_length IS NOT NULL
                        THEN format('%s(%s)', data_type, character_maximum_length)
                    ELSE data_type::text
               END AS "type!",
               column_default::text AS "default?",
               is_nullable::text = 'NO' AS "not_null!"
        FROM information_schema.columns
        WHERE table_schema IN ('auth', 'memory')
        "#
    )
    .fetch_all(&pool)
    .await
    .expect("read columns");
    let actual: HashMap<_, _> = rows
        .into_iter()
        .map(|row| {
            let shape = (row.r#type, row.default, row.not_null);
            ((row.table, row.column), shape)
        })
        .collect();

    let mismatches: Vec<String> = GUIDE_COLUMNS
        .iter()
        .filter_map(|&(table, column, data_type, default, guide_not_null)| {
            let Some((found_type, found_default, not_null)) =
                actual.get(&(table.to_owned(), column.to_owned()))
            else {
                return Some(format!("{table}.{column}: missing"));
            };
            let shape_kept = found_type == data_type
                && found_default.as_deref() == default
                && (*not_null || !guide_not_null);
            (!shape_kept).then(|| {
                format!(
                    "{table}.{column}: guide says {data_type} default {default:?} not null {guide_not_null}, \
                     found {found_type} default {found_default:?} not null {not_null}"
                )
            })
        })
        .collect();
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn guide_indexes_exist_on_the_guides_columns(pool: PgPool) {
    let definitions: HashMap<String, String> = sqlx::query!(
        r#"
        SELECT indexname::text AS "name!", indexdef AS "definition!"
        FROM pg_indexes WHERE schemaname IN ('auth', 'memory')
        "#
    )
    .fetch_all(&pool)
    .await
    .expect("read indexes")
    .into_iter()
    .map(|row| (row.name, row.definition))
    .collect();

    for (name, table, column) in GUIDE_INDEXES {
        assert_eq!(
            definitions.get(*name).map(String::as_str),
            Some(format!("CREATE INDEX {name} ON {table} USING btree ({column})").as_str()),
            "{name}"
        );
    }
}

async fn insert_user(
    executor: impl PgExecutor<'_>,
    username: &str,
    role: &str,
    github_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO auth.users (email, username, full_name, password_hash, role, github_id)
         VALUES ($1 || '@example.com', $1, $1, 'not-a-real-hash', $2, $3)",
        username,
        role,
        github_id,
    )
    .execute(executor)
    .await
    .map(drop)
}

fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error()?.constraint()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn users_check_role_keep_github_ids_unique_and_refresh_updated_at(pool: PgPool) {
    for role in ["user", "admin", "super_admin"] {
        insert_user(&pool, role, role, None)
            .await
            .unwrap_or_else(|error| panic!("role {role} is allowed: {error}"));
    }
    let error = insert_user(&pool, "mallory", "root", None)
        .await
        .expect_err("role root is rejected");
    assert_eq!(violated_constraint(&error), Some("users_role_check"));

    insert_user(&pool, "octo", "user", Some("1234"))
        .await
        .expect("first github id");
    let error = insert_user(&pool, "octo2", "user", Some("1234"))
        .await
        .expect_err("a github id belongs to one user");
    assert_eq!(violated_constraint(&error), Some("users_github_id_key"));

    // Inside one transaction now() is fixed, so the trigger's value can be compared exactly.
    let mut tx = pool.begin().await.expect("transaction");
    sqlx::query!(
        "UPDATE auth.users SET updated_at = '2000-01-01T00:00:00Z', full_name = 'Octo Cat'
         WHERE username = 'octo'"
    )
    .execute(&mut *tx)
    .await
    .expect("update");
    let refreshed = sqlx::query_scalar!(
        r#"SELECT updated_at = now() AS "refreshed!" FROM auth.users WHERE username = 'octo'"#
    )
    .fetch_one(&mut *tx)
    .await
    .expect("read back");
    assert!(
        refreshed,
        "the BEFORE UPDATE trigger sets updated_at = now()"
    );
}
