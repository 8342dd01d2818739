//! Ranking the chunks a user may read for a query, three ways:
//!
//! - `vector`: nearest by meaning, from the vector index (score: cosine similarity);
//! - `lexical`: by their words, PostgreSQL full text over `memory.chunks.search_vector`
//!   (score: `ts_rank_cd` cover density, normalised to `[0, 1)`);
//! - `hybrid` (the default): both rankings fused by reciprocal rank ([`fusion`]; score: the
//!   fused score), so a rare exact word (a name, an error code) that an embedding blurs is
//!   still found, and a paraphrase that shares no word still is too.
//!
//! When the vector index or the embedder is unavailable, `vector` and `hybrid` searches are
//! answered lexically and say so (`degraded`), rather than failing: PostgreSQL holds every
//! chunk, pending ones included.

pub mod fusion;
mod nearest;

use db::memory::{ChunkHit, search::SearchFilter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vector::Filter;

use self::nearest::{NearestError, nearest};
use crate::{error::ApiError, state::AppState};

/// How results are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nearest by meaning (the vector index); `score` is the cosine similarity.
    Vector,
    /// By words (PostgreSQL full text); `score` is the text rank.
    Lexical,
    /// Both, fused by reciprocal rank; `score` is the fused score.
    #[default]
    Hybrid,
}

/// Each side of a hybrid search offers this many times `limit` candidates for fusion...
const CANDIDATES_PER_RESULT: usize = 4;
/// ...but at least this many (a small `limit` still gets a real choice) and at most this.
const CANDIDATES: std::ops::RangeInclusive<usize> = 20..=200;

/// A checked search request.
#[derive(Debug, Clone)]
pub struct Search<'a> {
    /// The query, trimmed.
    pub text: &'a str,
    pub limit: usize,
    pub mode: Mode,
    /// The lowest cosine similarity a vector hit may have (vector and hybrid rankings).
    pub min_score: Option<f32>,
    /// What the user may read and asked for, as a filter on the vectors' payloads...
    pub payload_filter: Filter,
    /// ...and the same rules for PostgreSQL, which has the last word.
    pub filter: SearchFilter,
    /// The text-search configuration the query is parsed with.
    pub language: &'a str,
}

/// One result and its score (meaning: see [`Mode`]).
#[derive(Debug, Clone)]
pub struct Ranked {
    pub score: f32,
    pub hit: ChunkHit,
}

/// A search's results, best first, and how they were ranked.
#[derive(Debug)]
pub struct Answer {
    pub results: Vec<Ranked>,
    /// The ranking actually used: `lexical` when degraded.
    pub mode: Mode,
    /// `vector` or `hybrid` was asked but answered lexically (a part was unavailable).
    pub degraded: bool,
    /// The embedding model of the query; `None` when no embedding ranked the results.
    pub model: Option<String>,
}

impl Answer {
    fn lexical(results: Vec<Ranked>, degraded: bool) -> Self {
        Self {
            results,
            mode: Mode::Lexical,
            degraded,
            model: None,
        }
    }
}

/// Runs `search`: an unavailable vector side degrades to lexical results; anything else
/// that fails is the answer.
pub async fn run(state: &AppState, search: &Search<'_>) -> Result<Answer, ApiError> {
    let limit = search.limit;
    match search.mode {
        Mode::Lexical => Ok(Answer::lexical(lexical(state, search, limit).await?, false)),
        Mode::Vector => match nearest(state, search, limit).await {
            Ok(nearest) => Ok(Answer {
                results: nearest.hits,
                mode: Mode::Vector,
                degraded: false,
                model: Some(nearest.model),
            }),
            Err(error) => {
                degrade(error)?;
                Ok(Answer::lexical(lexical(state, search, limit).await?, true))
            }
        },
        Mode::Hybrid => {
            let want =
                (limit * CANDIDATES_PER_RESULT).clamp(*CANDIDATES.start(), *CANDIDATES.end());
            let (nearest, lexical) =
                tokio::join!(nearest(state, search, want), lexical(state, search, want));
            let mut lexical = lexical?;
            match nearest {
                Ok(nearest) => {
                    let rankings = [nearest.hits, lexical]
                        .into_iter()
                        .map(|ranking| ranking.into_iter().map(|r| (r.hit.id, r.hit)).collect())
                        .collect();
                    let results = fusion::fuse(rankings, limit)
                        .into_iter()
                        .map(|(score, hit)| Ranked { score, hit })
                        .collect();
                    Ok(Answer {
                        results,
                        mode: Mode::Hybrid,
                        degraded: false,
                        model: Some(nearest.model),
                    })
                }
                Err(error) => {
                    degrade(error)?;
                    lexical.truncate(limit);
                    Ok(Answer::lexical(lexical, true))
                }
            }
        }
    }
}

/// Lets an unavailable vector side through (logged and counted) for a lexical answer;
/// returns any other failure.
fn degrade(error: NearestError) -> Result<(), ApiError> {
    match error {
        NearestError::Unavailable { reason, detail } => {
            tracing::warn!(reason, %detail, "search answered lexically: vector ranking unavailable");
            ::metrics::counter!(crate::metrics::SEARCH_DEGRADED, "reason" => reason).increment(1);
            Ok(())
        }
        NearestError::Failed(error) => Err(error),
    }
}

/// The best `limit` chunks by their words.
async fn lexical(
    state: &AppState,
    search: &Search<'_>,
    limit: usize,
) -> Result<Vec<Ranked>, ApiError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let hits = db::memory::search::lexical(
        &state.pool,
        search.language,
        search.text,
        &search.filter,
        limit,
    )
    .await?;
    Ok(hits
        .into_iter()
        .map(|found| Ranked {
            score: found.rank,
            hit: found.hit,
        })
        .collect())
}
