//! The decision for every legacy row, made before anything is written: import it (and as
//! which account), leave it because it was imported before, or skip it and say why.

use std::collections::{HashMap, HashSet};

use db::{
    auth::legacy::{AccountKeys, ImportedLegacyUser, ImportedUser, LegacyUser},
    ids::UserId,
};

use super::fields::{
    base_username, email_plausible, local_part, non_empty, normalise_email, unique_username,
};

const ROLES: [&str; 3] = ["user", "admin", "super_admin"];
const FULL_NAME_MAX_CHARS: usize = 255;

/// What happens to one legacy row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Import(Account),
    AlreadyImported(UserId),
    Skip(String),
}

/// An account to create, and what differs from the legacy row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Account {
    pub(super) email: String,
    pub(super) username: String,
    pub(super) full_name: String,
    pub(super) name_source: NameSource,
    pub(super) role: &'static str,
    /// Report lines: changed username, remapped role, unusable hash, missing timestamp.
    pub(super) notes: Vec<String>,
    pub(super) role_remapped: bool,
    pub(super) username_changed: bool,
    pub(super) bcrypt: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameSource {
    FullName,
    FirstAndLast,
    Username,
}

impl Account {
    pub(super) fn to_insert<'a>(&'a self, row: &'a LegacyUser) -> ImportedUser<'a> {
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
pub(super) fn plan(
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
