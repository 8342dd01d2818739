//! The offline default: a deterministic feature-hashing embedder. No model, no network.
//!
//! **Quality is lexical, not semantic.** Texts sharing words, identifiers, word pairs or
//! spelling fragments score close; synonyms and paraphrases ("car" / "automobile") do not.
//! Good enough to make ingest and search work end to end on a laptop and in CI; configure
//! an OpenAI-compatible or Ollama model for real semantic search.
//!
//! Features of a text, each hashed (xxh3, seed 0) into one of `dimension` buckets with a
//! hash-derived sign, then the vector is L2-normalised:
//! - words (Unicode word boundaries of the NFKC, lower-cased text), weight 1;
//! - parts of identifiers (`snake_case`, `camelCase` → `snake`, `case`, `camel`), weight 1;
//! - consecutive word pairs, weight 0.5;
//! - character trigrams of each word with boundary marks (`^wo`, `wor`, `rd$`), weight 0.25.
//!
//! Changing any of this changes the vector space: bump [`MODEL`]'s version, so collections
//! built with the old one refuse to start until reindexed.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64;

use crate::{EmbedError, Embedder};

/// The model name recorded with every vector this embedder makes.
pub const MODEL: &str = "devmentor-hash-v1";
/// Default and allowed dimensions.
pub const DEFAULT_DIMENSION: usize = 384;
pub const DIMENSIONS: std::ops::RangeInclusive<usize> = 32..=4096;

const WORD: f32 = 1.0;
const PAIR: f32 = 0.5;
const TRIGRAM: f32 = 0.25;

/// Texts per `spawn_blocking` task.
const CHUNK: usize = 64;
/// Input of at most this many bytes in all (a search query) is embedded on the calling
/// task: about 30 µs at most, less than the hand-off to the blocking pool and back, and
/// within what a task may run between awaits. Documents (a chunk is up to 1,000
/// characters) stay on the blocking pool.
const INLINE_BYTES: usize = 512;

#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dimension: usize,
    /// CPU work runs on the blocking pool, at most one task per core at a time.
    permits: Arc<Semaphore>,
}

impl HashingEmbedder {
    pub fn new(dimension: usize) -> Result<Self, EmbedError> {
        if !DIMENSIONS.contains(&dimension) {
            return Err(EmbedError::Config(format!(
                "EMBEDDING_DIM for the hash embedder must be between {} and {}, got {dimension}",
                DIMENSIONS.start(),
                DIMENSIONS.end()
            )));
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            dimension,
            permits: Arc::new(Semaphore::new(cores)),
        })
    }

    /// Embeds one text on the calling thread (CPU work; prefer [`Embedder::embed`] in
    /// async code).
    pub fn embed_blocking(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let words = words(text);
        if words.is_empty() {
            return Err(EmbedError::InvalidInput(
                "the text has no words (empty, whitespace or punctuation only)".into(),
            ));
        }
        let mut features = Features::new(self.dimension);
        let mut marked = String::new();
        let mut boundaries = Vec::new();
        for (position, word) in words.iter().enumerate() {
            features.add(b'w', &[&word.text], WORD);
            for part in &word.parts {
                features.add(b'w', &[part], WORD);
            }
            if let Some(next) = words.get(position + 1) {
                features.add(b'p', &[&word.text, &next.text], PAIR);
            }
            // Trigrams of `^word$`, as byte ranges of one buffer (no string per trigram).
            marked.clear();
            marked.push('^');
            marked.push_str(&word.text);
            marked.push('$');
            boundaries.clear();
            boundaries.extend(marked.char_indices().map(|(at, _)| at));
            boundaries.push(marked.len());
            for window in boundaries.windows(4) {
                features.add(b't', &[&marked[window[0]..window[3]]], TRIGRAM);
            }
        }
        let mut vector = features.vector;
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 {
            return Err(EmbedError::InvalidInput(
                "the text's hashed features cancel out exactly; add a word".into(),
            ));
        }
        vector.iter_mut().for_each(|x| *x /= norm);
        Ok(vector)
    }

    /// The lexer pass alone (normalise and split into words): the floor the benchmark
    /// compares embedding throughput with.
    pub fn tokenize(text: &str) -> usize {
        words(text).len()
    }
}

/// A vector being summed from hashed features.
struct Features {
    vector: Vec<f32>,
    /// The bytes of the feature being hashed: its kind, then each part and a separator.
    buffer: Vec<u8>,
}

impl Features {
    fn new(dimension: usize) -> Self {
        Self {
            vector: vec![0.0; dimension],
            buffer: Vec::with_capacity(64),
        }
    }

    fn add(&mut self, kind: u8, parts: &[&str], weight: f32) {
        self.buffer.clear();
        self.buffer.push(kind);
        for part in parts {
            self.buffer.extend_from_slice(part.as_bytes());
            self.buffer.push(0x1f);
        }
        let hash = xxh3_64(&self.buffer);
        let bucket = (hash % self.vector.len() as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        self.vector[bucket] += sign * weight;
    }
}

struct Word {
    /// Lower-cased.
    text: String,
    /// Lower-cased parts of an identifier; empty for plain words.
    parts: Vec<String>,
}

fn words(text: &str) -> Vec<Word> {
    // Most text is already in NFKC (all ASCII is): normalise only when it is not.
    let normalised: Cow<str> = match is_nfkc_quick(text.chars()) {
        IsNormalized::Yes => Cow::Borrowed(text),
        _ => Cow::Owned(text.nfkc().collect()),
    };
    normalised
        .unicode_words()
        .map(|original| Word {
            text: original.to_lowercase(),
            parts: identifier_parts(original),
        })
        .collect()
}

/// `snake_case` and `camelCase` split into their parts (two or more), lower-cased.
fn identifier_parts(original: &str) -> Vec<String> {
    if !has_identifier_boundary(original) {
        // One part at most: nothing to add (and nothing to allocate for a plain word).
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in original.chars() {
        let boundary = c == '_' || (c.is_uppercase() && previous_lower);
        if boundary && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        if c != '_' {
            current.extend(c.to_lowercase());
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    if !current.is_empty() {
        parts.push(current);
    }
    if parts.len() < 2 {
        parts.clear();
    }
    parts
}

/// Whether [`identifier_parts`] would cut `original` somewhere: at a `_`, or at an upper-case
/// letter after a lower-case letter or digit.
fn has_identifier_boundary(original: &str) -> bool {
    let mut previous_lower = false;
    original.chars().any(|c| {
        let boundary = c == '_' || (c.is_uppercase() && previous_lower);
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        boundary
    })
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn model(&self) -> &str {
        MODEL
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.iter().map(String::len).sum::<usize>() <= INLINE_BYTES {
            return texts.iter().map(|text| self.embed_blocking(text)).collect();
        }
        let chunks = texts.chunks(CHUNK).map(|chunk| {
            let permits = Arc::clone(&self.permits);
            let embedder = self.clone();
            let chunk = chunk.to_vec();
            async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .map_err(|_| EmbedError::Unavailable("embedder shut down".into()))?;
                tokio::task::spawn_blocking(move || {
                    chunk
                        .iter()
                        .map(|text| embedder.embed_blocking(text))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await
                .map_err(|error| {
                    EmbedError::Unavailable(format!("embedding task failed: {error}"))
                })?
            }
        });
        // All chunks in flight, at most one per core running; results stay in input order.
        let embedded = futures::future::try_join_all(chunks).await?;
        Ok(embedded.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn embed(text: &str) -> Vec<f32> {
        HashingEmbedder::new(384)
            .expect("valid")
            .embed_blocking(text)
            .expect("embeds")
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let a = embed("How do I run the database migrations?");
        assert_eq!(a.len(), 384);
        assert!((cosine(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(a, embed("How do I run the database migrations?"));
    }

    #[test]
    fn the_vector_space_is_pinned() {
        // If this fails, the features changed: bump MODEL's version (see module docs).
        let v = embed("Rust borrow checker");
        let nonzero: Vec<(usize, i32)> = v
            .iter()
            .enumerate()
            .filter(|(_, x)| x.abs() > 1e-6)
            .map(|(i, x)| (i, (x * 1000.0).round() as i32))
            .take(4)
            .collect();
        assert_eq!(nonzero, PINNED);
    }

    const PINNED: &[(usize, i32)] = &[(7, -119), (8, 119), (12, 119), (52, 475)];

    #[test]
    fn every_component_is_pinned_for_varied_text() {
        // Every bit of every component, over words, identifiers, pairs, multi-byte trigrams
        // and text that needs normalising: a faster implementation must not move a vector.
        let texts = [
            "Rust borrow checker",
            "refresh_token_family and refreshTokenFamily, HTTP2Server v10",
            "Café RESUME naïve coöperate — Straße ǅemal ﬁle ①",
            "日本語のテキスト、混在 text 🙂 emoji",
            "a",
        ];
        let mut bits = Vec::new();
        for text in texts {
            bits.extend(embed(text).iter().flat_map(|x| x.to_bits().to_le_bytes()));
        }
        assert_eq!(xxh3_64(&bits), PINNED_BITS, "{:#x}", xxh3_64(&bits));
    }

    const PINNED_BITS: u64 = 0xe2f9b519ffd3a8a8;

    #[test]
    fn shared_words_score_closer_than_unrelated_text() {
        let query = embed("run database migrations");
        let related = embed("The migrator runs pending database migrations in order.");
        let unrelated = embed("Chocolate cake needs butter, sugar and eggs.");
        assert!(cosine(&query, &related) > cosine(&query, &unrelated) + 0.2);
    }

    #[test]
    fn spelling_variants_and_identifiers_stay_close() {
        let british = embed("optimise the query");
        let american = embed("optimize the query");
        let other = embed("delete every user");
        assert!(cosine(&british, &american) > cosine(&british, &other) + 0.3);
        let snake = embed("refresh_token_family");
        let words = embed("refresh token family");
        assert!(cosine(&snake, &words) > 0.4, "{}", cosine(&snake, &words));
        let camel = embed("refreshTokenFamily");
        assert!(cosine(&camel, &words) > 0.4, "{}", cosine(&camel, &words));
    }

    #[test]
    fn case_and_unicode_forms_do_not_matter() {
        assert_eq!(embed("Café RESUME"), embed("cafe\u{301} resume"));
    }

    #[tokio::test]
    async fn short_and_long_input_give_the_same_vectors_in_order() {
        let embedder = HashingEmbedder::new(384).expect("valid");
        let short = vec![
            "run database migrations".to_owned(),
            "refreshTokenFamily".to_owned(),
        ];
        // Over INLINE_BYTES in all, and more than one CHUNK: embedded on the blocking pool.
        let long: Vec<String> = (0..CHUNK + 3)
            .map(|i| format!("text number {i} about database migrations"))
            .collect();
        assert!(long.iter().map(String::len).sum::<usize>() > INLINE_BYTES);
        for texts in [short, long] {
            let one_by_one: Vec<Vec<f32>> = texts.iter().map(|text| embed(text)).collect();
            assert_eq!(embedder.embed(&texts).await.expect("embeds"), one_by_one);
        }
        assert!(matches!(
            embedder.embed(&["?!".to_owned()]).await,
            Err(EmbedError::InvalidInput(_))
        ));
    }

    #[test]
    fn texts_without_words_are_refused() {
        let embedder = HashingEmbedder::new(64).expect("valid");
        for text in ["", "   ", "?!…"] {
            assert!(
                matches!(
                    embedder.embed_blocking(text),
                    Err(EmbedError::InvalidInput(_))
                ),
                "{text:?}"
            );
        }
        assert!(HashingEmbedder::new(8).is_err());
    }
}
