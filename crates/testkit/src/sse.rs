//! Reading a Server-Sent Events response as it arrives, one event at a time.

use std::time::Duration;

use serde_json::Value;

/// One event: its `event:` name, `id:` and `data:` parsed as JSON.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: Value,
}

/// The events of a streaming response, read as they come.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Checks that `response` is an event stream.
    pub fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), reqwest::StatusCode::OK, "stream refused");
        let content_type = response.headers()["content-type"].to_str().expect("ascii");
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event within `limit` (keep-alive comments skipped), or `None` if the
    /// stream ended first. Fails the test when nothing came in time.
    pub async fn next_within(&mut self, limit: Duration) -> Option<SseEvent> {
        tokio::time::timeout(limit, self.next())
            .await
            .expect("an event or the end of the stream in time")
    }

    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("utf-8 stream"));
        }
    }
}

/// An event block's fields; `None` for a comment-only block (a keep-alive).
fn parse(block: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut id = String::new();
    let mut data = String::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("id:") {
            id = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push_str(value.trim_start());
        }
    }
    Some(SseEvent {
        event: event?,
        id,
        data: serde_json::from_str(&data).expect("event data is JSON"),
    })
}
