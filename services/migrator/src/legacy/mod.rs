//! `migrator legacy import-users`: the guide's phase 6 for accounts. Copies the old Node auth
//! service's `public.users` into `auth.users` in one transaction, remembering each legacy id in
//! `auth.legacy_user_map`, and prints what it did, skipped or changed.
//!
//! The rules, where the guide's `INSERT ... SELECT` would crash or let bad data in:
//! - **email** is trimmed and lower-cased, as registration stores it. A row whose email equals
//!   another legacy row's ignoring case is skipped (the lowest legacy id is kept), and so is one
//!   whose email already belongs to an account: existing accounts are never touched.
//! - **username** ← `COALESCE(username, email)`, except that an email breaks our username rules
//!   (3-50 letters, digits, `_ . -`, starting with a letter or digit) and would let one user's
//!   username be another's email. So a missing username comes from the email's local part; one
//!   that breaks the rules has each other character replaced by `_` and leading `_ . -`
//!   dropped, is cut to 50, and gets `_<legacy id>` appended when under 3 characters; one taken
//!   ignoring case gets `_<legacy id>` appended. Every changed username is reported.
//! - **full_name** ← `COALESCE(full_name, first_name || ' ' || last_name)`, except that a NULL
//!   first or last name would make the whole name NULL: the parts that exist are joined, and a
//!   row with no name at all gets its username.
//! - **role** outside user/admin/super_admin (NULL included) becomes `user`, the least
//!   privilege, and is reported; an admin can grant more afterwards.
//! - **password_hash** is kept as is: auth verifies bcrypt and rehashes to argon2id at login.
//!   Other hashes are imported too (the account keeps its data) and reported: those users
//!   need a password reset.
//! - **created_at** is kept, read in `--time-zone` (the legacy column has no zone).
//!
//! Reading and writing happen here, in one transaction; [`plan`] decides each row's fate and
//! what its account looks like (with [`fields`] for emails and usernames); [`report`] renders
//! the result.

mod fields;
mod plan;
mod report;

use db::auth::legacy;
use sqlx::{Connection, PgConnection};

use crate::{CliError, fail};

/// Imports (or with `dry_run`, rehearses and rolls back) and prints the report.
pub async fn import_users(
    conn: &mut PgConnection,
    dry_run: bool,
    time_zone: &str,
) -> Result<(), CliError> {
    db::schema::verify(conn).await.map_err(fail)?;
    let mut tx = conn.begin().await.map_err(fail)?;
    if !legacy::legacy_table_exists(&mut tx).await.map_err(fail)? {
        return Err(fail(
            "no legacy table: public.users does not exist in this database; restore the old auth service's users table into it first",
        ));
    }
    legacy::lock_for_import(&mut tx).await.map_err(fail)?;
    let rows = legacy::legacy_users(&mut tx, time_zone)
        .await
        .map_err(|error| fail(format!("cannot read public.users: {error}")))?;
    let imported = legacy::imported(&mut tx).await.map_err(fail)?;
    let accounts = legacy::account_keys(&mut tx).await.map_err(fail)?;

    let planned = plan::plan(&rows, &imported, &accounts);
    for (row, outcome) in rows.iter().zip(&planned) {
        if let plan::Outcome::Import(account) = outcome {
            legacy::insert_imported(&mut tx, &account.to_insert(row))
                .await
                .map_err(|error| {
                    fail(format!(
                        "legacy id {}: cannot import: {error}; nothing was imported",
                        row.id
                    ))
                })?;
        }
    }
    let report = report::render(&rows, &planned, dry_run);
    if dry_run {
        tx.rollback().await.map_err(fail)?;
    } else {
        tx.commit().await.map_err(fail)?;
    }
    print!("{report}");
    Ok(())
}
