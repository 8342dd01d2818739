//! The board order of a project's tasks: live tasks by `(position, number)`, one order for
//! the whole project (a status column shows its tasks in that order), and moving a task
//! before or after another one.
//!
//! Positions are fractional: a move takes the midpoint of its new neighbours, so it writes
//! one row. When the gap is too small to split, the project is renumbered first, in the same
//! transaction and in the same order.

use sqlx::{PgConnection, PgExecutor};

use super::tasks::{self, POSITION_STEP, Task, TaskChanges};
use crate::ids::ProjectId;

/// Gaps narrower than this are renumbered rather than split: long before f64 runs out of
/// digits (at positions near 1024 it has about 1e-13 left), so positions stay readable.
pub const MIN_GAP: f64 = 1e-9;

/// Which side of the anchor task a moved task lands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Before,
    After,
}

/// A task after [`place`], and whether the project had to be renumbered to make room.
#[derive(Debug, Clone)]
pub struct Placed {
    pub task: Task,
    pub rebalanced: bool,
}

/// Moves live task `#number` right before or after live task `#anchor` (another task of the
/// same project) in the board order, bumping its version. `None` when either is not live.
/// Call it in the transaction holding the project lock, so no other write moves the
/// neighbours between reading them and writing the new position.
pub async fn place(
    connection: &mut PgConnection,
    project_id: ProjectId,
    number: i32,
    anchor: i32,
    side: Side,
) -> sqlx::Result<Option<Placed>> {
    let Some(gap) = find_gap(&mut *connection, project_id, number, anchor, side).await? else {
        return Ok(None);
    };
    let (position, rebalanced) = match between(gap) {
        Some(position) => (position, false),
        None => {
            rebalance(&mut *connection, project_id).await?;
            let Some(gap) = find_gap(&mut *connection, project_id, number, anchor, side).await?
            else {
                return Ok(None);
            };
            // Renumbered neighbours are POSITION_STEP apart, which always splits.
            let position = between(gap).ok_or_else(|| {
                sqlx::Error::Protocol(format!("no room next to task {anchor} after renumbering"))
            })?;
            (position, true)
        }
    };
    let task = set_position(&mut *connection, project_id, number, position).await?;
    Ok(task.map(|task| Placed { task, rebalanced }))
}

/// The positions the moved task must fall strictly between: `(lower, upper)`, `None` at an
/// end of the order.
type Gap = (Option<f64>, Option<f64>);

/// The gap next to `#anchor` on `side`, leaving `#moving` out (it is the one moving).
async fn find_gap(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    moving: i32,
    anchor: i32,
    side: Side,
) -> sqlx::Result<Option<Gap>> {
    let row = sqlx::query!(
        r#"SELECT anchor.position AS "anchor!",
                  (SELECT t.position FROM projects.tasks t
                   WHERE t.project_id = $1 AND t.deleted_at IS NULL AND t.number <> $3
                     AND (t.position, t.number) < (anchor.position, anchor.number)
                   ORDER BY t.position DESC, t.number DESC
                   LIMIT 1) AS "below?",
                  (SELECT t.position FROM projects.tasks t
                   WHERE t.project_id = $1 AND t.deleted_at IS NULL AND t.number <> $3
                     AND (t.position, t.number) > (anchor.position, anchor.number)
                   ORDER BY t.position, t.number
                   LIMIT 1) AS "above?"
           FROM projects.tasks anchor
           WHERE anchor.project_id = $1 AND anchor.number = $2 AND anchor.deleted_at IS NULL"#,
        project_id as ProjectId,
        anchor,
        moving,
    )
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|row| match side {
        Side::Before => (row.below, Some(row.anchor)),
        Side::After => (Some(row.anchor), row.above),
    }))
}

/// A position strictly inside the gap, or `None` when the gap is too narrow to split (or
/// the step past an end of the order is lost to rounding at huge positions).
pub fn between((lower, upper): Gap) -> Option<f64> {
    let candidate = match (lower, upper) {
        (Some(lower), Some(upper)) if upper - lower < MIN_GAP => return None,
        // Halves first: `lower + upper` could overflow for positions set far apart by PATCH.
        (Some(lower), Some(upper)) => lower / 2.0 + upper / 2.0,
        (Some(lower), None) => lower + POSITION_STEP,
        (None, Some(upper)) => upper - POSITION_STEP,
        (None, None) => return Some(POSITION_STEP),
    };
    let inside = lower.is_none_or(|lower| lower < candidate)
        && upper.is_none_or(|upper| candidate < upper)
        && candidate.is_finite();
    inside.then_some(candidate)
}

/// Renumbers the project's live tasks POSITION_STEP, 2 × POSITION_STEP, ... in their board
/// order; tasks whose position changes get a new version, as for any other edit. Returns how
/// many changed.
pub async fn rebalance(executor: impl PgExecutor<'_>, project_id: ProjectId) -> sqlx::Result<u64> {
    let result = sqlx::query!(
        r#"UPDATE projects.tasks t
           SET position = renumbered.position, version = t.version + 1
           FROM (SELECT id,
                        $2::float8 * row_number() OVER (ORDER BY position, number) AS position
                 FROM projects.tasks
                 WHERE project_id = $1 AND deleted_at IS NULL) renumbered
           WHERE t.project_id = $1 AND t.id = renumbered.id
             AND t.position <> renumbered.position"#,
        project_id as ProjectId,
        POSITION_STEP,
    )
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}

/// Sets a live task's position and bumps its version; `None` if it is not live.
async fn set_position(
    executor: impl PgExecutor<'_>,
    project_id: ProjectId,
    number: i32,
    position: f64,
) -> sqlx::Result<Option<Task>> {
    let changes = TaskChanges {
        position: Some(position),
        ..TaskChanges::default()
    };
    tasks::update_live(executor, project_id, number, None, &changes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_split_at_its_midpoint() {
        assert_eq!(between((Some(1024.0), Some(2048.0))), Some(1536.0));
        assert_eq!(between((Some(-3.0), Some(5.0))), Some(1.0));
    }

    #[test]
    fn the_ends_of_the_order_step_outwards() {
        assert_eq!(between((Some(1024.0), None)), Some(2048.0));
        assert_eq!(between((None, Some(1024.0))), Some(0.0));
        assert_eq!(between((None, None)), Some(POSITION_STEP));
    }

    #[test]
    fn narrow_gaps_and_ties_are_left_for_a_renumbering() {
        assert_eq!(between((Some(0.0), Some(0.0))), None, "a tie has no inside");
        assert_eq!(between((Some(1.0), Some(1.0 + MIN_GAP / 2.0))), None);
        let next = f64::from_bits(1e300_f64.to_bits() + 1);
        assert_eq!(
            between((Some(1e300), Some(next))),
            None,
            "no f64 in between"
        );
        assert_eq!(
            between((Some(f64::MAX), None)),
            None,
            "the step rounds away"
        );
        assert_eq!(between((None, Some(f64::MIN))), None);
    }

    #[test]
    fn far_apart_neighbours_do_not_overflow() {
        let middle = between((Some(f64::MIN), Some(f64::MAX))).expect("room");
        assert!(middle.is_finite() && middle.abs() < 1.0, "{middle}");
    }
}
