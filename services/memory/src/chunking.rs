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
    pub fn split(&self, text: &str, format: TextFormat) -> Vec<ChunkText> {
        let pieces: Vec<(usize, &str)> = match format {
            TextFormat::Plain => self.plain.chunk_indices(text).collect(),
            TextFormat::Markdown => self.markdown.chunk_indices(text).collect(),
        };
        pieces
            .into_iter()
            .filter(|(_, piece)| !piece.trim().is_empty())
            .map(|(start, piece)| ChunkText {
                content: piece.to_owned(),
                start,
            })
            .collect()
    }
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
}
