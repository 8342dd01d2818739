//! Reciprocal rank fusion: one ranking out of several, from ranks alone. Scores of different
//! rankers (a cosine, a text rank) cannot be compared, but their ranks can: an item earns
//! `1 / (k + rank)` from every list it appears in (rank 1 is the best), and the sums decide.
//! `k` damps the weight of the very first places, so agreement between lists beats a lone
//! first place (Cormack, Clarke & Büttcher, SIGIR 2009, who found k = 60 works well).

use std::collections::HashMap;

use uuid::Uuid;

/// The usual damping constant.
pub const K: f64 = 60.0;

/// Fuses best-first `rankings` of `(id, item)`, keeping the item an id first came with, and
/// returns the best `limit` with their fused scores, best first. Ties go to the item with
/// the better single rank, then to the lower id, so the order is deterministic.
pub fn fuse<T>(rankings: Vec<Vec<(Uuid, T)>>, limit: usize) -> Vec<(f32, T)> {
    struct Fused<T> {
        score: f64,
        best_rank: usize,
        item: T,
    }
    let mut fused: HashMap<Uuid, Fused<T>> = HashMap::new();
    for ranking in rankings {
        for (index, (id, item)) in ranking.into_iter().enumerate() {
            let rank = index + 1;
            let earned = 1.0 / (K + rank as f64);
            fused
                .entry(id)
                .and_modify(|entry| {
                    entry.score += earned;
                    entry.best_rank = entry.best_rank.min(rank);
                })
                .or_insert(Fused {
                    score: earned,
                    best_rank: rank,
                    item,
                });
        }
    }
    let mut ordered: Vec<(Uuid, Fused<T>)> = fused.into_iter().collect();
    ordered.sort_by(|(a_id, a), (b_id, b)| {
        b.score
            .total_cmp(&a.score)
            .then(a.best_rank.cmp(&b.best_rank))
            .then(a_id.cmp(b_id))
    });
    ordered
        .into_iter()
        .take(limit)
        .map(|(_, entry)| (entry.score as f32, entry.item))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn ranking(ids: &[u128]) -> Vec<(Uuid, u128)> {
        ids.iter().map(|&n| (id(n), n)).collect()
    }

    fn order(fused: &[(f32, u128)]) -> Vec<u128> {
        fused.iter().map(|(_, n)| *n).collect()
    }

    #[test]
    fn agreement_beats_a_lone_first_place() {
        // 2 is second in both lists; 1 and 3 each top one list and miss the other.
        let fused = fuse(vec![ranking(&[1, 2]), ranking(&[3, 2])], 10);
        assert_eq!(order(&fused)[0], 2);
        let expected = 2.0 / (K + 2.0);
        assert!((f64::from(fused[0].0) - expected).abs() < 1e-7, "{fused:?}");
    }

    #[test]
    fn an_item_found_once_scores_by_its_rank() {
        let fused = fuse(vec![ranking(&[7, 8, 9]), Vec::new()], 10);
        assert_eq!(order(&fused), [7, 8, 9]);
        assert!((f64::from(fused[2].0) - 1.0 / (K + 3.0)).abs() < 1e-7);
    }

    #[test]
    fn ties_go_to_the_better_single_rank_then_the_lower_id() {
        // 5 and 4 are both first once: the lower id wins. 6 (second) follows.
        let fused = fuse(vec![ranking(&[5, 6]), ranking(&[4])], 10);
        assert_eq!(order(&fused), [4, 5, 6]);
    }

    #[test]
    fn the_answer_is_cut_at_the_limit_and_keeps_the_first_item_seen() {
        let first = vec![(id(1), "from the first list")];
        let second = vec![(id(1), "from the second list"), (id(2), "only here")];
        let fused = fuse(vec![first, second], 1);
        assert_eq!(fused.len(), 1);
        assert_eq!(fused[0].1, "from the first list");
        assert!(fuse::<u8>(Vec::new(), 5).is_empty());
    }
}
