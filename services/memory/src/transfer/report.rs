//! What an import answers: its counts, and the problems of the first lines that had one.

use platform::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// Problems listed per kind in the answer; the counts cover them all.
pub const MAX_REPORTED: usize = 100;

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Documents written (their chunks are indexed in the background).
    pub imported: u64,
    /// Lines whose document was there already: the same id (yours, or its copy's: see
    /// `notices`), or without `external_id`, the same text under another id.
    pub unchanged: u64,
    /// Lines not imported (see `errors`).
    pub failed: u64,
    /// Documents imported without their `project_id`: no such project, or not one you can see.
    pub projects_dropped: u64,
    /// Why lines failed: the first 100.
    pub errors: Vec<LineProblem>,
    /// What was imported differently from the line: the first 100. `stored_under_new_id`:
    /// the line's ids belong to another owner's documents, so it is a copy under ids of
    /// your own (`new_id`; its chunks' ids are new too), the same each time the line is
    /// imported into the same account.
    pub notices: Vec<LineProblem>,
}

/// One line's problem.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineProblem {
    /// The line's number in the body, from 1.
    pub line: u64,
    /// The document's id, when the line got as far as having one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The id the line's document is stored under instead of `id` (`stored_under_new_id`):
    /// a UUID v5 named by the 16 bytes of `id` in the namespace of your user id (for shared
    /// documents, `094255f8-a9e8-4561-9fb4-2a3ccb737aa5`); each chunk's new id is made the same way
    /// from its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_id: Option<Uuid>,
    pub code: &'static str,
    pub message: String,
}

impl ImportReport {
    pub(super) fn fail(&mut self, line: u64, id: Option<Uuid>, error: &ApiError) {
        self.failed += 1;
        if let Some(detail) = error.detail() {
            tracing::error!(line, detail, "import line failed");
        }
        let problem = LineProblem {
            line,
            id,
            new_id: None,
            code: error.status_and_code().1,
            // Held to an excerpt of what the line quoted, as a refusal's is.
            message: platform::error::message::bounded(&error.to_string()),
        };
        keep_first_lines(&mut self.errors, problem);
    }

    pub(super) fn notice(&mut self, line: u64, id: Uuid, code: &'static str, message: String) {
        let problem = LineProblem {
            line,
            id: Some(id),
            new_id: None,
            code,
            message,
        };
        keep_first_lines(&mut self.notices, problem);
    }

    /// Says that the document of `line` is stored as `new_id`: a copy, whatever of its ids
    /// was another owner's (the message names none, so nothing is told about them).
    pub(super) fn stored_under_new_id(&mut self, line: u64, id: Uuid, new_id: Uuid) {
        let problem = LineProblem {
            line,
            id: Some(id),
            new_id: Some(new_id),
            code: "stored_under_new_id",
            message: format!(
                "stored as document {new_id}, its chunks under new ids too: this line's ids \
                 belong to documents that are not yours"
            ),
        };
        keep_first_lines(&mut self.notices, problem);
    }
}

/// Keeps the [`MAX_REPORTED`] problems of the lowest line numbers, in line order: a line is
/// reported when it is read or when its batch is written, so not always in order.
fn keep_first_lines(problems: &mut Vec<LineProblem>, problem: LineProblem) {
    let at = problems.partition_point(|known| known.line <= problem.line);
    if at < MAX_REPORTED {
        problems.insert(at, problem);
        problems.truncate(MAX_REPORTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(line: u64) -> LineProblem {
        LineProblem {
            line,
            id: None,
            new_id: None,
            code: "invalid",
            message: format!("line {line}"),
        }
    }

    /// Batches report their lines out of order; the answer still lists the lowest line
    /// numbers, in order, and never more than [`MAX_REPORTED`].
    #[test]
    fn the_lowest_lines_are_kept_in_order_whatever_order_they_come_in() {
        let mut kept = Vec::new();
        let arrival = (1..=250).rev().chain([7, 300]);
        for line in arrival {
            keep_first_lines(&mut kept, problem(line));
        }
        let lines: Vec<u64> = kept.iter().map(|problem| problem.line).collect();
        let mut expected: Vec<u64> = (1..=100).collect();
        expected.insert(7, 7);
        expected.truncate(MAX_REPORTED);
        assert_eq!(lines, expected);
    }
}
