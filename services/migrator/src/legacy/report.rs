//! The import's report: one line per skipped row and per change to a row, then the totals.

use std::fmt::Write as _;

use db::auth::legacy::LegacyUser;

use super::plan::{Account, NameSource, Outcome};

pub(super) fn render(rows: &[LegacyUser], planned: &[Outcome], dry_run: bool) -> String {
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
