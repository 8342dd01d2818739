//! A request body as lines, read as it arrives: at most one line (up to a limit) and one
//! frame of the body are held at a time. A line over the limit is skipped to its end
//! without being kept, and reported as such, so the lines after it are still read.

use axum::body::{Body, BodyDataStream, Bytes};
use futures::StreamExt;

/// What the next line of the body is.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A line's bytes without its `\n` (nor the `\r` before it); `number` counts from 1.
    Text { number: u64, bytes: Vec<u8> },
    /// A line longer than the limit, skipped.
    TooLong { number: u64 },
}

/// Why the body could not be read to its end.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over `max_body` bytes: the lines before were read, the rest was not.
    TooLarge { lines_read: u64 },
    /// The body broke off (the client went away, or sent a malformed stream) after
    /// `lines_read` lines.
    Interrupted { lines_read: u64, detail: String },
}

pub struct Lines {
    body: BodyDataStream,
    /// Unread bytes are `buffer[start..]`; those before `scanned` hold no `\n`.
    buffer: Vec<u8>,
    start: usize,
    scanned: usize,
    /// Skipping the rest of a line that is over the limit.
    skipping: bool,
    finished: bool,
    number: u64,
    received: usize,
    max_line: usize,
    max_body: usize,
}

impl Lines {
    pub fn new(body: Body, max_line: usize, max_body: usize) -> Self {
        Self {
            body: body.into_data_stream(),
            buffer: Vec::new(),
            start: 0,
            scanned: 0,
            skipping: false,
            finished: false,
            number: 0,
            received: 0,
            max_line,
            max_body,
        }
    }

    /// The next line, or `None` after the last one.
    pub async fn next(&mut self) -> Result<Option<Line>, BodyError> {
        loop {
            if let Some(end) = self.buffer[self.scanned..].iter().position(|&b| b == b'\n') {
                let end = self.scanned + end;
                let line = self.take_line(end);
                self.start = end + 1;
                self.scanned = self.start;
                return Ok(Some(line));
            }
            self.scanned = self.buffer.len();
            if self.scanned - self.start > self.max_line {
                self.skipping = true;
            }
            if self.skipping {
                // Nothing of a line over the limit is kept.
                self.buffer.clear();
                (self.start, self.scanned) = (0, 0);
            }
            if self.finished {
                if self.skipping || self.start < self.buffer.len() {
                    let end = self.buffer.len();
                    let line = self.take_line(end);
                    self.buffer.clear();
                    (self.start, self.scanned) = (0, 0);
                    return Ok(Some(line));
                }
                return Ok(None);
            }
            self.read_frame().await?;
        }
    }

    /// The line ending at `end` (exclusive), numbered; ends any skipping.
    fn take_line(&mut self, end: usize) -> Line {
        self.number += 1;
        let number = self.number;
        if std::mem::take(&mut self.skipping) || end - self.start > self.max_line {
            return Line::TooLong { number };
        }
        let mut bytes = self.buffer[self.start..end].to_vec();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Line::Text { number, bytes }
    }

    async fn read_frame(&mut self) -> Result<(), BodyError> {
        let frame: Option<Result<Bytes, axum::Error>> = self.body.next().await;
        let Some(frame) = frame else {
            self.finished = true;
            return Ok(());
        };
        let frame = frame.map_err(|error| BodyError::Interrupted {
            lines_read: self.number,
            detail: error.to_string(),
        })?;
        self.received = self.received.saturating_add(frame.len());
        if self.received > self.max_body {
            return Err(BodyError::TooLarge {
                lines_read: self.number,
            });
        }
        // Drop the lines already handed out before growing the buffer.
        self.buffer.drain(..self.start);
        self.scanned -= self.start;
        self.start = 0;
        self.buffer.extend_from_slice(&frame);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines of a body sent in `frames`, read with the given limits.
    async fn read(
        frames: &[&str],
        max_line: usize,
        max_body: usize,
    ) -> Vec<Result<Line, BodyError>> {
        let frames: Vec<Result<Bytes, std::io::Error>> = frames
            .iter()
            .map(|frame| Ok(Bytes::copy_from_slice(frame.as_bytes())))
            .collect();
        let mut lines = Lines::new(
            Body::from_stream(futures::stream::iter(frames)),
            max_line,
            max_body,
        );
        let mut read = Vec::new();
        loop {
            match lines.next().await {
                Ok(Some(line)) => read.push(Ok(line)),
                Ok(None) => return read,
                Err(error) => {
                    read.push(Err(error));
                    return read;
                }
            }
        }
    }

    fn text(number: u64, text: &str) -> Result<Line, BodyError> {
        Ok(Line::Text {
            number,
            bytes: text.as_bytes().to_vec(),
        })
    }

    #[tokio::test]
    async fn lines_are_split_across_frames_and_numbered() {
        let lines = read(&["ab", "c\r\nd", "e\n\nlast"], 10, 100).await;
        assert_eq!(
            lines,
            [text(1, "abc"), text(2, "de"), text(3, ""), text(4, "last")]
        );
    }

    #[tokio::test]
    async fn a_long_line_is_skipped_and_the_next_ones_read() {
        let lines = read(&["short\n0123456", "789abcdef", "ghi\nnext\n"], 8, 100).await;
        assert_eq!(
            lines,
            [
                text(1, "short"),
                Ok(Line::TooLong { number: 2 }),
                text(3, "next")
            ]
        );
        let last = read(&["ok\n", "0123456789"], 8, 100).await;
        assert_eq!(last, [text(1, "ok"), Ok(Line::TooLong { number: 2 })]);
    }

    #[tokio::test]
    async fn a_body_over_its_limit_stops_the_reading() {
        let lines = read(&["one\ntwo\n", "three\n"], 8, 10).await;
        assert_eq!(
            lines,
            [
                text(1, "one"),
                text(2, "two"),
                Err(BodyError::TooLarge { lines_read: 2 })
            ]
        );
    }

    #[tokio::test]
    async fn an_empty_body_has_no_lines() {
        assert!(read(&[], 8, 10).await.is_empty());
        assert_eq!(read(&["\n"], 8, 10).await, [text(1, "")]);
    }
}
