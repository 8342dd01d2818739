//! What an import did, and the report the CLI prints: counts first, then what was skipped
//! and why (with where), what was re-keyed, and how the records were read.

use std::{collections::BTreeMap, fmt::Write as _};

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{
    Location,
    record::{LegacyRecord, Skip},
    time::{Reading, Time},
};

/// Records listed by name under one heading, at most.
const LISTED: usize = 10;
/// Re-keyed points listed in the report, at most (`--mapping` writes them all).
const REKEYED_LISTED: usize = 20;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub dry_run: bool,
    /// What was read, e.g. `notes.json (a JSON array)`.
    pub source: String,
    /// Whose documents they became: an email, or `shared`.
    pub owner: String,
    pub records: usize,
    pub created: usize,
    /// Imported before under the same id, with other text or fields: replaced.
    pub updated: usize,
    pub unchanged: usize,
    /// Dry run: records that would be imported (new or changed).
    pub would_import: usize,
    pub skipped: Vec<(Location, Skip)>,
    pub rekeyed: Vec<Rekeyed>,
    /// Every record that is a document now (imported or unchanged), for `--mapping`.
    pub mapping: Vec<MappingRow>,
    pub text_fields: BTreeMap<&'static str, usize>,
    pub times: BTreeMap<Reading, usize>,
    pub without_time: usize,
    pub unreadable_times: Vec<Location>,
    /// Types that had to be cleaned: where, as given, as stored.
    pub kinds_cleaned: Vec<(Location, String, Option<String>)>,
    /// Chunks of the imported documents still without their vector at the end.
    pub pending_chunks: i64,
    /// Why vectors could not be stored (the rows are kept, pending).
    pub index_error: Option<String>,
    /// Why the import stopped before the end (the CLI exits 1).
    pub failure: Option<String>,
}

/// A legacy point whose id its chunk could not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rekeyed {
    pub at: Location,
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub why: &'static str,
}

/// One line of the mapping file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappingRow {
    /// The id as the source had it (numeric point ids as numbers); null without one.
    pub legacy_id: Value,
    pub external_id: String,
    pub document_id: Uuid,
    /// The first chunk: the legacy vector's place (its id is the point id where kept).
    pub chunk_id: Option<Uuid>,
    /// `created`, `updated` or `unchanged`.
    pub outcome: &'static str,
    pub rekeyed: bool,
}

impl Summary {
    /// Counts how a record was read.
    pub fn note(&mut self, record: &LegacyRecord) {
        *self.text_fields.entry(record.text_field).or_default() += 1;
        match record.time {
            Some(Time::At(_, reading)) => *self.times.entry(reading).or_default() += 1,
            Some(Time::Unreadable) => self.unreadable_times.push(record.at),
            None => self.without_time += 1,
        }
        if let Some(given) = &record.kind_given {
            self.kinds_cleaned
                .push((record.at, given.clone(), record.kind.clone()));
        }
    }

    pub fn imported(&self) -> usize {
        self.created + self.updated
    }

    /// The report, one fact per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mode = if self.dry_run { " (dry run)" } else { "" };
        let from = if self.source.is_empty() {
            String::new()
        } else {
            format!(" from {}", self.source)
        };
        let _ = writeln!(
            out,
            "memory import-legacy{mode}: {} records{from}, owner {}",
            self.records, self.owner
        );
        if self.dry_run {
            line(&mut out, "would import", self.would_import.to_string());
        } else {
            line(
                &mut out,
                "imported",
                format!(
                    "{} ({} new, {} changed since an earlier import)",
                    self.imported(),
                    self.created,
                    self.updated
                ),
            );
        }
        line(&mut out, "unchanged", self.unchanged.to_string());
        line(&mut out, "skipped", self.skipped.len().to_string());
        self.render_skipped(&mut out);
        if !self.dry_run {
            line(&mut out, "re-keyed", self.rekeyed.len().to_string());
            for rekeyed in self.rekeyed.iter().take(REKEYED_LISTED) {
                let _ = writeln!(
                    out,
                    "  {} -> chunk {}, document {} ({})",
                    rekeyed.at, rekeyed.chunk_id, rekeyed.document_id, rekeyed.why
                );
            }
            if self.rekeyed.len() > REKEYED_LISTED {
                let more = self.rekeyed.len() - REKEYED_LISTED;
                let _ = writeln!(out, "  ... and {more} more (--mapping FILE lists them all)");
            }
        }
        self.render_reading(&mut out);
        if self.pending_chunks > 0 {
            let _ = writeln!(
                out,
                "pending: {} chunks wait for their vectors; the memory service's indexer adds \
                 them when it runs",
                self.pending_chunks
            );
        }
        if self.dry_run {
            out.push_str("dry run: nothing was written (the embedding model was not asked)\n");
        }
        out
    }

    fn render_skipped(&self, out: &mut String) {
        let mut by_reason: BTreeMap<String, Vec<&(Location, Skip)>> = BTreeMap::new();
        for skipped in &self.skipped {
            by_reason
                .entry(skipped.1.reason())
                .or_default()
                .push(skipped);
        }
        for (reason, records) in by_reason {
            let places: Vec<Location> = records.iter().map(|(at, _)| *at).collect();
            if records.iter().all(|(_, skip)| skip.detail().is_none()) {
                let _ = writeln!(out, "  {reason}: {} ({})", records.len(), list(&places));
                continue;
            }
            let _ = writeln!(out, "  {reason}: {}", records.len());
            for (at, skip) in records.iter().take(LISTED) {
                let detail = skip.detail().unwrap_or_default();
                let _ = writeln!(out, "    {at}: {detail}");
            }
            if records.len() > LISTED {
                let _ = writeln!(out, "    ... and {} more", records.len() - LISTED);
            }
        }
    }

    fn render_reading(&self, out: &mut String) {
        if !self.text_fields.is_empty() {
            let fields: Vec<String> = self
                .text_fields
                .iter()
                .map(|(field, count)| format!("{field} {count}"))
                .collect();
            line(out, "text from", fields.join(", "));
        }
        let mut times: Vec<String> = self
            .times
            .iter()
            .map(|(reading, count)| format!("{count} {}", reading.describe()))
            .collect();
        if self.without_time > 0 {
            times.push(format!(
                "{} without a time (the import's time used)",
                self.without_time
            ));
        }
        if !self.unreadable_times.is_empty() {
            times.push(format!(
                "{} unreadable ({}: the import's time used, the value kept in \
                 metadata.legacy_created_at)",
                self.unreadable_times.len(),
                list(&self.unreadable_times)
            ));
        }
        if !times.is_empty() {
            line(out, "times", times.join("; "));
        }
        if !self.kinds_cleaned.is_empty() {
            line(out, "types cleaned", self.kinds_cleaned.len().to_string());
            for (at, given, kind) in self.kinds_cleaned.iter().take(LISTED) {
                let stored = kind.as_deref().unwrap_or("document (nothing usable left)");
                let _ = writeln!(out, "  {at}: {given:?} -> {stored}");
            }
        }
    }
}

fn line(out: &mut String, label: &str, value: String) {
    let _ = writeln!(out, "{:<15}{value}", format!("{label}:"));
}

/// `lines 4, 9, 12` or `point 7`, the first few of many.
fn list(places: &[Location]) -> String {
    let all_lines = places.iter().all(|at| matches!(at, Location::Line(_)));
    let mut names: Vec<String> = places
        .iter()
        .take(LISTED)
        .map(|at| match at {
            Location::Line(line) if all_lines => line.to_string(),
            other => other.to_string(),
        })
        .collect();
    if places.len() > LISTED {
        names.push(format!("... {} more", places.len() - LISTED));
    }
    let names = names.join(", ");
    match (all_lines, places.len()) {
        (true, 1) => format!("line {names}"),
        (true, _) => format!("lines {names}"),
        _ => names,
    }
}
