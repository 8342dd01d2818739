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

use std::{
    collections::{HashMap, HashSet},
    fmt::Write as _,
};

use db::{
    auth::{
        legacy::{self, AccountKeys, ImportedLegacyUser, ImportedUser, LegacyUser},
        username,
    },
    ids::UserId,
};
use sqlx::{Connection, PgConnection};

use crate::{CliError, fail};

const ROLES: [&str; 3] = ["user", "admin", "super_admin"];
const FULL_NAME_MAX_CHARS: usize = 255;

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

    let planned = plan(&rows, &imported, &accounts);
    for (row, outcome) in rows.iter().zip(&planned) {
        if let Outcome::Import(account) = outcome {
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
    let report = render(&rows, &planned, dry_run);
    if dry_run {
        tx.rollback().await.map_err(fail)?;
    } else {
        tx.commit().await.map_err(fail)?;
    }
    print!("{report}");
    Ok(())
}

/// What happens to one legacy row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Import(Account),
    AlreadyImported(UserId),
    Skip(String),
}

/// An account to create, and what differs from the legacy row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    email: String,
    username: String,
    full_name: String,
    name_source: NameSource,
    role: &'static str,
    /// Report lines: changed username, remapped role, unusable hash, missing timestamp.
    notes: Vec<String>,
    role_remapped: bool,
    username_changed: bool,
    bcrypt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameSource {
    FullName,
    FirstAndLast,
    Username,
}

impl Account {
    fn to_insert<'a>(&'a self, row: &'a LegacyUser) -> ImportedUser<'a> {
        ImportedUser {
            legacy_id: row.id,
            email: &self.email,
            username: &self.username,
            full_name: &self.full_name,
            password_hash: &row.password_hash,
            role: self.role,
            created_at: row.created_at,
        }
    }
}

/// Decides every row before anything is written; `rows` must be in legacy id order.
fn plan(
    rows: &[LegacyUser],
    imported: &[ImportedLegacyUser],
    accounts: &[AccountKeys],
) -> Vec<Outcome> {
    let imported: HashMap<i32, UserId> = imported
        .iter()
        .map(|row| (row.legacy_id, row.user_id))
        .collect();
    let mut first_with_email = HashMap::new();
    for row in rows {
        first_with_email
            .entry(normalise_email(&row.email))
            .or_insert(row.id);
    }
    let owners: HashMap<&str, UserId> = accounts
        .iter()
        .map(|account| (account.email_lower.as_str(), account.id))
        .collect();
    let mut usernames: HashSet<String> = accounts
        .iter()
        .map(|account| account.username_lower.clone())
        .collect();

    rows.iter()
        .map(|row| {
            if let Some(user_id) = imported.get(&row.id) {
                return Outcome::AlreadyImported(*user_id);
            }
            let email = normalise_email(&row.email);
            if !email_plausible(&email) {
                return Outcome::Skip(format!("email {:?} is not an email address", row.email));
            }
            let first = first_with_email[&email];
            if first != row.id {
                return Outcome::Skip(format!(
                    "email {:?} duplicates legacy id {first} (emails are unique ignoring case)",
                    row.email
                ));
            }
            if let Some(owner) = owners.get(email.as_str()) {
                return Outcome::Skip(format!(
                    "email {:?} already belongs to account {owner}, which was left untouched",
                    row.email
                ));
            }
            let account = account(row, email, &usernames);
            usernames.insert(account.username.to_lowercase());
            Outcome::Import(account)
        })
        .collect()
}

fn account(row: &LegacyUser, email: String, taken: &HashSet<String>) -> Account {
    let mut notes = Vec::new();
    let legacy_username = non_empty(&row.username);
    let base = base_username(legacy_username.unwrap_or(local_part(&email)), row.id);
    let username = unique_username(&base, row.id, taken);
    let mut why = Vec::new();
    match legacy_username {
        None => why.push("no username".to_owned()),
        Some(raw) if raw != base => why.push(format!(
            "username {raw:?} breaks the rules (3-50 letters, digits, '_', '.', '-')"
        )),
        Some(_) => {}
    }
    if username != base {
        why.push(format!("{base:?} is taken (ignoring case)"));
    }
    if !why.is_empty() {
        let origin = if legacy_username.is_none() {
            " (from the email)"
        } else {
            ""
        };
        notes.push(format!(
            "{}: imported as {username:?}{origin}",
            why.join("; ")
        ));
    }

    let (full_name, name_source) = full_name(row, &username);
    if name_source == NameSource::Username {
        notes.push(format!(
            "no name: full_name set to the username {username:?}"
        ));
    }
    let role = ROLES
        .into_iter()
        .find(|known| row.role.as_deref() == Some(*known));
    if role.is_none() {
        let legacy_role = row
            .role
            .as_deref()
            .map_or("NULL".to_owned(), |r| format!("{r:?}"));
        notes.push(format!(
            "role {legacy_role} is not user, admin or super_admin: imported as user"
        ));
    }
    let bcrypt = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| row.password_hash.starts_with(prefix));
    if !bcrypt {
        notes.push(
            "password hash is not bcrypt: imported, but the user must reset the password"
                .to_owned(),
        );
    }
    if row.created_at.is_none() {
        notes.push("no created_at: set to the time of the import".to_owned());
    }
    Account {
        email,
        username_changed: !why.is_empty(),
        username,
        full_name,
        name_source,
        role: role.unwrap_or("user"),
        role_remapped: role.is_none(),
        bcrypt,
        notes,
    }
}

fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// What `users_email_check` (`LIKE '_%@_%'`) and the column's 255 characters accept.
fn email_plausible(email: &str) -> bool {
    email.chars().count() <= 255
        && email
            .char_indices()
            .any(|(at, c)| c == '@' && at > 0 && at + 1 < email.len())
}

fn local_part(email: &str) -> &str {
    email.rsplit_once('@').map_or(email, |(local, _)| local)
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `source` made to follow [`db::auth::username`]: other characters become `_`, leading
/// separators are dropped, too long is cut, too short gets `_<legacy id>`.
fn base_username(source: &str, legacy_id: i32) -> String {
    let cleaned = username::sanitise(source, Some('_'));
    match cleaned.chars().count() {
        0 => format!("user_{legacy_id}"),
        n if n < username::MIN_CHARS => format!("{cleaned}_{legacy_id}"),
        _ => cleaned,
    }
}

/// `base`, or `base_<legacy id>[_n]` (cut to fit) when taken ignoring case.
fn unique_username(base: &str, legacy_id: i32, taken: &HashSet<String>) -> String {
    let mut candidate = base.to_owned();
    let mut attempt = 1;
    while taken.contains(&candidate.to_lowercase()) {
        let suffix = match attempt {
            1 => format!("_{legacy_id}"),
            n => format!("_{legacy_id}_{n}"),
        };
        candidate = username::with_suffix(base, &suffix);
        attempt += 1;
    }
    candidate
}

fn full_name(row: &LegacyUser, username: &str) -> (String, NameSource) {
    let cut = |name: &str| name.chars().take(FULL_NAME_MAX_CHARS).collect::<String>();
    if let Some(name) = non_empty(&row.full_name) {
        return (cut(name), NameSource::FullName);
    }
    let parts: Vec<&str> = [non_empty(&row.first_name), non_empty(&row.last_name)]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        (username.to_owned(), NameSource::Username)
    } else {
        (cut(&parts.join(" ")), NameSource::FirstAndLast)
    }
}

fn render(rows: &[LegacyUser], planned: &[Outcome], dry_run: bool) -> String {
    let mut out = String::new();
    let mode = if dry_run { " (dry run)" } else { "" };
    let _ = writeln!(
        out,
        "legacy import-users{mode}: {} rows in public.users",
        rows.len()
    );
    let imports: Vec<&Account> = planned
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Import(account) => Some(account),
            _ => None,
        })
        .collect();
    for (row, outcome) in rows.iter().zip(planned) {
        match outcome {
            Outcome::Skip(reason) => {
                let _ = writeln!(out, "legacy id {}: skipped: {reason}", row.id);
            }
            Outcome::Import(account) => {
                for note in &account.notes {
                    let _ = writeln!(out, "legacy id {}: {note}", row.id);
                }
            }
            Outcome::AlreadyImported(_) => {}
        }
    }
    let count = |test: &dyn Fn(&Account) -> bool| imports.iter().filter(|a| test(a)).count();
    let from_parts = count(&|a| a.name_source == NameSource::FirstAndLast);
    let from_username = count(&|a| a.name_source == NameSource::Username);
    let lines = [
        (
            if dry_run { "would import" } else { "imported" },
            imports.len().to_string(),
        ),
        (
            "already imported",
            planned
                .iter()
                .filter(|o| matches!(o, Outcome::AlreadyImported(_)))
                .count()
                .to_string(),
        ),
        (
            "skipped",
            planned
                .iter()
                .filter(|o| matches!(o, Outcome::Skip(_)))
                .count()
                .to_string(),
        ),
        ("roles remapped", count(&|a| a.role_remapped).to_string()),
        (
            "usernames changed",
            count(&|a| a.username_changed).to_string(),
        ),
        (
            "full names derived",
            format!(
                "{} ({from_parts} from first/last name, {from_username} from the username)",
                from_parts + from_username
            ),
        ),
        ("non-bcrypt hashes", count(&|a| !a.bcrypt).to_string()),
    ];
    for (label, value) in lines {
        let _ = writeln!(out, "{label:<19} {value}", label = format!("{label}:"));
    }
    if dry_run {
        out.push_str("dry run: nothing was changed (the transaction was rolled back)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i32, email: &str, username: Option<&str>) -> LegacyUser {
        LegacyUser {
            id,
            email: email.to_owned(),
            username: username.map(str::to_owned),
            first_name: None,
            last_name: None,
            full_name: Some("Some One".to_owned()),
            password_hash: "$2b$04$abcdefghijklmnopqrstuv".to_owned(),
            role: Some("user".to_owned()),
            created_at: None,
        }
    }

    fn taken(names: &[&str]) -> HashSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn usernames_are_made_to_follow_the_rules() {
        assert_eq!(base_username("alice_01", 7), "alice_01");
        assert_eq!(base_username("john doe", 7), "john_doe");
        assert_eq!(base_username("__José", 7), "Jos_");
        assert_eq!(base_username("al", 7), "al_7");
        assert_eq!(base_username("@@", 7), "user_7");
        assert_eq!(base_username(&"x".repeat(80), 7), "x".repeat(50));
        assert_eq!(local_part("first.last+tag@example.com"), "first.last+tag");
        assert_eq!(
            base_username(local_part("first.last+tag@example.com"), 7),
            "first.last_tag"
        );
    }

    #[test]
    fn taken_usernames_get_the_legacy_id_and_still_fit() {
        assert_eq!(unique_username("alice", 7, &taken(&["bob"])), "alice");
        assert_eq!(unique_username("Alice", 7, &taken(&["alice"])), "Alice_7");
        assert_eq!(
            unique_username("Alice", 7, &taken(&["alice", "alice_7"])),
            "Alice_7_2"
        );
        let long = "y".repeat(50);
        let unique = unique_username(&long, 12345, &taken(&[long.as_str()]));
        assert_eq!(unique, format!("{}_12345", "y".repeat(44)));
        assert!(username::is_valid(&unique));
    }

    #[test]
    fn full_names_use_the_parts_that_exist() {
        let mut legacy = row(1, "a@x.io", Some("ann"));
        assert_eq!(full_name(&legacy, "ann").1, NameSource::FullName);
        legacy.full_name = Some("  ".to_owned());
        legacy.last_name = Some("Lee".to_owned());
        assert_eq!(
            full_name(&legacy, "ann"),
            ("Lee".to_owned(), NameSource::FirstAndLast)
        );
        legacy.first_name = Some(" Ann ".to_owned());
        assert_eq!(full_name(&legacy, "ann").0, "Ann Lee");
        legacy.first_name = None;
        legacy.last_name = None;
        assert_eq!(
            full_name(&legacy, "ann"),
            ("ann".to_owned(), NameSource::Username)
        );
    }

    #[test]
    fn emails_must_pass_the_column_check() {
        for ok in ["a@b", "x.y@example.com"] {
            assert!(email_plausible(ok), "{ok}");
        }
        for bad in [
            "",
            "@b",
            "a@",
            "plain",
            &format!("{}@x.io", "a".repeat(260)),
        ] {
            assert!(!email_plausible(bad), "{bad}");
        }
    }

    #[test]
    fn case_duplicates_keep_the_lowest_id_and_existing_accounts_win() {
        let rows = [
            row(1, "Ann@X.io", Some("ann")),
            row(2, "ann@x.io", Some("ann2")),
            row(3, "bob@x.io", Some("bob")),
            row(4, "cat@x.io", Some("ANN")),
        ];
        let existing = [AccountKeys {
            id: UserId::new(),
            email_lower: "bob@x.io".to_owned(),
            username_lower: "robert".to_owned(),
        }];
        let planned = plan(&rows, &[], &existing);
        assert!(matches!(&planned[0], Outcome::Import(a) if a.email == "ann@x.io"));
        assert!(matches!(&planned[1], Outcome::Skip(r) if r.contains("duplicates legacy id 1")));
        assert!(matches!(&planned[2], Outcome::Skip(r) if r.contains("already belongs")));
        assert!(matches!(&planned[3], Outcome::Import(a) if a.username == "ANN_4"));
    }
}
