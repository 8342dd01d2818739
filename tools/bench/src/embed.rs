//! Embedder figures: chunks/s of the hashing embedder through the async trait (all cores)
//! and on one thread, next to the floor of its lexer pass alone (normalise and split).

use std::time::Instant;

use embed::{Embedder, HashingEmbedder};

use crate::EmbedArgs;
use crate::report::{heading, line, rate};

/// Words typical of developer-mentoring text, mixed with identifiers.
const VOCABULARY: &[&str] = &[
    "the",
    "database",
    "migration",
    "runs",
    "before",
    "service",
    "starts",
    "refresh_token",
    "borrowChecker",
    "async",
    "await",
    "query",
    "index",
    "vector",
    "Qdrant",
    "PostgreSQL",
    "error",
    "handler",
    "returns",
    "JSON",
    "request",
    "response",
    "timeout",
    "retry",
    "backoff",
    "café",
    "naïve",
    "schema",
    "version",
    "checksum",
    "rollback",
    "transaction",
    "commit",
    "lifetime",
    "trait",
    "generic",
    "closure",
    "iterator",
    "Option",
    "Result",
    "unwrap",
    "panic",
];

/// `words` random words of [`VOCABULARY`].
pub fn text(rng: &mut fastrand::Rng, words: usize) -> String {
    (0..words)
        .map(|_| VOCABULARY[rng.usize(..VOCABULARY.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn chunks(args: &EmbedArgs) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(7);
    (0..args.chunks)
        .map(|_| text(&mut rng, args.words))
        .collect()
}

pub async fn run(args: &EmbedArgs) -> anyhow::Result<()> {
    let texts = chunks(args);
    let embedder = HashingEmbedder::new(args.dim)?;
    heading(&format!(
        "embedder: {} ({} dims), {} chunks of {} words",
        embedder.model(),
        args.dim,
        args.chunks,
        args.words
    ));

    let started = Instant::now();
    let words: usize = texts
        .iter()
        .map(|text| HashingEmbedder::tokenize(text))
        .sum();
    let floor = started.elapsed();
    line(
        "floor: lexer pass only, one thread",
        format!("{} chunks  ({words} words)", rate(texts.len(), floor)),
    );

    let started = Instant::now();
    for text in &texts {
        embedder.embed_blocking(text)?;
    }
    line(
        "embed, one thread",
        format!("{} chunks", rate(texts.len(), started.elapsed())),
    );

    let started = Instant::now();
    let vectors = embedder.embed(&texts).await?;
    line(
        "embed via the async trait (all cores)",
        format!("{} chunks", rate(vectors.len(), started.elapsed())),
    );
    Ok(())
}
