//! Splitting a document into chunks: the largest semantic units (sections, paragraphs,
//! sentences, words) that fit the chunk size, with a little overlap between neighbours.

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

/// How a document's text is structured; Markdown splits at headings and blocks first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Plain,
    Markdown,
}

impl TextFormat {
    /// Markdown for `.md`/`.markdown` paths, plain text otherwise.
    pub fn guess(path: Option<&str>) -> Self {
        let markdown = path
            .and_then(|path| path.rsplit_once('.'))
            .is_some_and(|(_, ext)| {
                ext.eq_ignore_ascii_case("md") || ext.eq_ignore_ascii_case("markdown")
            });
        if markdown {
            TextFormat::Markdown
        } else {
            TextFormat::Plain
        }
    }
}

/// One piece of a document and where it starts in the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkText {
    pub content: String,
    /// Byte offset of the (trimmed) chunk in the document text.
    pub start: usize,
}

pub struct Chunker {
    plain: TextSplitter<text_splitter::Characters>,
    markdown: MarkdownSplitter<text_splitter::Characters>,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker").finish_non_exhaustive()
    }
}

impl Chunker {
    /// `size` and `overlap` in characters; the overlap must be under the size.
    pub fn new(size: usize, overlap: usize) -> Result<Self, String> {
        let config = || {
            ChunkConfig::new(size)
                .with_overlap(overlap)
                .map_err(|error| format!("chunk overlap {overlap} with size {size}: {error}"))
        };
        Ok(Self {
            plain: TextSplitter::new(config()?),
            markdown: MarkdownSplitter::new(config()?),
        })
    }

    /// The non-blank chunks of `text`, in order.
    ///
    /// The text is first cut into windows of at most [`WINDOW_BYTES`] at line breaks (or
    /// spaces), and each window is chunked on its own: `text-splitter` looks ahead to the
    /// next break of each semantic level for every chunk, so a long stretch without one
    /// (a 3 MB line) cost time quadratic in its length — minutes of CPU for one request.
    pub fn split(&self, text: &str, format: TextFormat) -> Vec<ChunkText> {
        windows(text, WINDOW_BYTES)
            .flat_map(|(offset, window)| {
                let pieces: Vec<(usize, &str)> = match format {
                    TextFormat::Plain => self.plain.chunk_indices(window).collect(),
                    TextFormat::Markdown => self.markdown.chunk_indices(window).collect(),
                };
                pieces
                    .into_iter()
                    .map(move |(start, piece)| (offset + start, piece))
            })
            .filter(|(_, piece)| !piece.trim().is_empty())
            .map(|(start, piece)| ChunkText {
                content: piece.to_owned(),
                start,
            })
            .collect()
    }
}

/// Large enough that real paragraphs are never cut (chunks are a few hundred characters),
/// small enough that chunking a window stays cheap whatever it holds.
const WINDOW_BYTES: usize = 16 * 1024;

/// `text` as consecutive `(offset, slice)` windows of at most `max` bytes, each ending after
/// its last line break, else after its last space, else at a character boundary.
fn windows(text: &str, max: usize) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        let rest = &text[offset..];
        if rest.is_empty() {
            return None;
        }
        let end = if rest.len() <= max {
            rest.len()
        } else {
            let mut limit = max;
            while !rest.is_char_boundary(limit) {
                limit -= 1;
            }
            let head = &rest[..limit];
            head.rfind('\n')
                .or_else(|| head.rfind(char::is_whitespace))
                .map_or(limit, |at| at + 1)
        };
        let window = (offset, &rest[..end]);
        offset += end;
        Some(window)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_chunk() {
        let chunker = Chunker::new(100, 10).unwrap();
        let chunks = chunker.split("  Rust ownership in one line.  ", TextFormat::Plain);
        assert_eq!(
            chunks,
            vec![ChunkText {
                content: "Rust ownership in one line.".into(),
                start: 2
            }]
        );
    }

    #[test]
    fn long_text_splits_at_sentences_within_the_size_and_keeps_every_word() {
        let sentence = "Borrowing lets code use a value without taking ownership. ";
        let text = sentence.repeat(40);
        let chunker = Chunker::new(200, 0).unwrap();
        let chunks = chunker.split(&text, TextFormat::Plain);
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        for chunk in &chunks {
            assert!(chunk.content.chars().count() <= 200);
            assert!(chunk.content.ends_with('.'), "cut mid-sentence: {chunk:?}");
            assert_eq!(
                &text[chunk.start..chunk.start + chunk.content.len()],
                chunk.content
            );
        }
        let words: usize = chunks
            .iter()
            .map(|c| c.content.split_whitespace().count())
            .sum();
        assert_eq!(words, text.split_whitespace().count());
    }

    #[test]
    fn overlap_repeats_the_end_of_a_chunk_at_the_start_of_the_next() {
        let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu ".repeat(10);
        let chunker = Chunker::new(80, 30).unwrap();
        let chunks = chunker.split(&text, TextFormat::Plain);
        assert!(chunks.len() > 2);
        for pair in chunks.windows(2) {
            let end_of_first = pair[0].start + pair[0].content.len();
            assert!(pair[1].start < end_of_first, "no overlap between {pair:?}");
        }
    }

    #[test]
    fn markdown_splits_at_headings_first() {
        let text = format!(
            "# Ownership\n\n{}\n\n# Lifetimes\n\n{}",
            "Each value has one owner. ".repeat(6),
            "References must not outlive their referent. ".repeat(4)
        );
        let chunker = Chunker::new(200, 0).unwrap();
        let chunks = chunker.split(&text, TextFormat::Markdown);
        assert!(chunks.iter().any(|c| c.content.starts_with("# Lifetimes")));
        assert!(
            !chunks
                .iter()
                .any(|c| c.content.contains("owner. # Lifetimes"))
        );
    }

    #[test]
    fn format_is_guessed_from_the_path() {
        assert_eq!(
            TextFormat::guess(Some("docs/README.md")),
            TextFormat::Markdown
        );
        assert_eq!(
            TextFormat::guess(Some("notes.MARKDOWN")),
            TextFormat::Markdown
        );
        assert_eq!(TextFormat::guess(Some("src/main.rs")), TextFormat::Plain);
        assert_eq!(TextFormat::guess(None), TextFormat::Plain);
    }

    #[test]
    fn overlap_at_or_above_the_size_is_refused() {
        assert!(Chunker::new(100, 100).is_err());
    }

    #[test]
    fn windows_cover_the_text_and_end_at_breaks() {
        let text = format!("{}\n{}", "line of words ".repeat(20), "x".repeat(300));
        let cut: Vec<_> = windows(&text, 100).collect();
        let mut next = 0;
        for (offset, window) in &cut {
            assert_eq!(*offset, next, "consecutive");
            assert!(window.len() <= 100);
            next += window.len();
        }
        assert_eq!(next, text.len(), "nothing lost");
        assert!(cut[0].1.ends_with(' '), "cut after a space: {:?}", cut[0]);
        let multibyte = "é".repeat(100);
        assert!(windows(&multibyte, 33).all(|(_, w)| w.len() <= 33 && !w.is_empty()));
    }

    #[test]
    fn a_long_text_without_breaks_is_chunked_whole_with_true_offsets() {
        let text = "a".repeat(100_000);
        let chunker = Chunker::new(300, 0).unwrap();
        let chunks = chunker.split(&text, TextFormat::Plain);
        let covered: usize = chunks.iter().map(|chunk| chunk.content.len()).sum();
        assert_eq!(covered, text.len());
        for chunk in &chunks {
            assert_eq!(
                &text[chunk.start..chunk.start + chunk.content.len()],
                chunk.content
            );
        }
    }
}
