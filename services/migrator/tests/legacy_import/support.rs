//! Helpers for the legacy import tests: running the binary, the legacy table, reading results.

use sqlx::PgPool;
use testkit::BinaryRun;

/// Runs `migrator --database-url <pool's database> legacy import-users ARGS` with an empty
/// environment, from a directory without a `.env`.
pub async fn import(pool: &PgPool, args: &[&str]) -> BinaryRun {
    let url = testkit::database_url(pool);
    let all_args = [
        &["--database-url", url.as_str(), "legacy", "import-users"],
        args,
    ]
    .concat();
    testkit::run_binary(env!("CARGO_BIN_EXE_migrator"), &all_args, &[]).await
}

/// The old Node auth service's table, verbatim.
const LEGACY_TABLE: &str = "CREATE TABLE public.users (id SERIAL PRIMARY KEY, email VARCHAR(255) UNIQUE NOT NULL, username VARCHAR(255), first_name VARCHAR(255), last_name VARCHAR(255), full_name VARCHAR(255), password_hash VARCHAR(255) NOT NULL, role VARCHAR(50) DEFAULT 'user', created_at TIMESTAMP DEFAULT NOW())";

/// One legacy row; `password` is stored as a bcrypt hash, as the Node service did.
pub struct Legacy<'a> {
    pub email: &'a str,
    pub username: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub full_name: Option<&'a str>,
    pub password: &'a str,
    pub role: Option<&'a str>,
    pub created_at: Option<&'a str>,
}

impl Default for Legacy<'_> {
    fn default() -> Self {
        Self {
            email: "someone@example.com",
            username: None,
            first_name: None,
            last_name: None,
            full_name: Some("Some One"),
            password: "legacy password",
            role: Some("user"),
            created_at: Some("2020-05-06 07:08:09"),
        }
    }
}

/// A legacy row with just an email and a username.
pub fn user<'a>(email: &'a str, username: &'a str) -> Legacy<'a> {
    Legacy {
        email,
        username: Some(username),
        ..Legacy::default()
    }
}

pub async fn create_legacy_table(pool: &PgPool) {
    sqlx::raw_sql(LEGACY_TABLE)
        .execute(pool)
        .await
        .expect("legacy table");
}

/// Inserts rows in order; returns their legacy ids.
pub async fn add_legacy(pool: &PgPool, rows: &[Legacy<'_>]) -> Vec<i32> {
    let mut ids = Vec::new();
    for row in rows {
        let hash = bcrypt::hash(row.password, 4).expect("bcrypt");
        // Runtime-checked: the legacy table is in no database the query macros see.
        let id = sqlx::query_scalar(
            "INSERT INTO public.users (email, username, first_name, last_name, full_name,
                                       password_hash, role, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::timestamp) RETURNING id",
        )
        .bind(row.email)
        .bind(row.username)
        .bind(row.first_name)
        .bind(row.last_name)
        .bind(row.full_name)
        .bind(hash)
        .bind(row.role)
        .bind(row.created_at)
        .fetch_one(pool)
        .await
        .expect("insert legacy row");
        ids.push(id);
    }
    ids
}

/// An imported account, with the legacy id it came from.
#[derive(Debug, PartialEq, Eq)]
pub struct Imported {
    pub legacy_id: i32,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: String,
}

pub async fn imported(pool: &PgPool) -> Vec<Imported> {
    sqlx::query!(
        r#"SELECT m.legacy_id, u.email, u.username, u.full_name, u.role, u.password_hash,
                  u.created_at
           FROM auth.legacy_user_map m JOIN auth.users u ON u.id = m.user_id
           ORDER BY m.legacy_id"#
    )
    .fetch_all(pool)
    .await
    .expect("imported accounts")
    .into_iter()
    .map(|row| Imported {
        legacy_id: row.legacy_id,
        email: row.email,
        username: row.username,
        full_name: row.full_name,
        role: row.role,
        password_hash: row.password_hash,
        created_at: row.created_at.to_rfc3339(),
    })
    .collect()
}

/// `auth.legacy_user_map` as (legacy id, imported at).
pub async fn map(pool: &PgPool) -> Vec<(i32, String)> {
    sqlx::query!("SELECT legacy_id, imported_at FROM auth.legacy_user_map ORDER BY 1")
        .fetch_all(pool)
        .await
        .expect("map")
        .into_iter()
        .map(|row| (row.legacy_id, row.imported_at.to_rfc3339()))
        .collect()
}

pub async fn legacy_hash(pool: &PgPool, id: i32) -> String {
    sqlx::query_scalar("SELECT password_hash FROM public.users WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("legacy hash")
}

pub async fn account_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM auth.users"#)
        .fetch_one(pool)
        .await
        .expect("count")
}
