//! Embedding models behind HTTP: OpenAI-compatible `/v1/embeddings` (OpenAI, vLLM, TEI,
//! LM Studio) and Ollama's `/api/embed`. Texts go in batches; backon retries each batch with
//! jittered exponential backoff on 5xx, timeouts and connection failures, waits as long as a
//! 429's `Retry-After` asks (up to a limit), and every request passes a circuit breaker.

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use crate::breaker::CircuitBreaker;
use crate::retry;
use crate::{EmbedError, Embedder};

/// The wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST {base}/v1/embeddings` `{model, input: [..]}` → `{data: [{index, embedding}]}`.
    OpenAi,
    /// `POST {base}/api/embed` `{model, input: [..]}` → `{embeddings: [[..]]}`.
    Ollama,
}

/// Everything an HTTP embedder needs; [`crate::EmbeddingConfig`] fills it from the env.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub api: Api,
    /// Base URL (`https://api.openai.com/v1`, `http://localhost:11434`) or the full endpoint.
    pub url: String,
    pub model: String,
    pub dimension: usize,
    pub api_key: Option<SecretString>,
    pub batch_size: usize,
    pub timeout: Duration,
    /// Retries after the first attempt of a batch.
    pub max_retries: u32,
    /// The first retry waits up to this (jittered), each next one up to twice as long, to 10 s.
    pub retry_base_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails `RateLimited`.
    pub max_retry_after: Duration,
    /// Consecutive transient failures that open the circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl HttpConfig {
    pub fn new(
        api: Api,
        url: impl Into<String>,
        model: impl Into<String>,
        dimension: usize,
    ) -> Self {
        Self {
            api,
            url: url.into(),
            model: model.into(),
            dimension,
            api_key: None,
            batch_size: 64,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_base_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(60),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
pub struct HttpEmbedder {
    config: HttpConfig,
    endpoint: Url,
    client: reqwest::Client,
    backoff: ExponentialBuilder,
    breaker: CircuitBreaker,
}

impl HttpEmbedder {
    pub fn new(config: HttpConfig) -> Result<Self, EmbedError> {
        if config.model.is_empty() || config.dimension == 0 || config.batch_size == 0 {
            return Err(EmbedError::Config(
                "an HTTP embedder needs EMBEDDING_MODEL, EMBEDDING_DIM > 0 and a batch size > 0"
                    .into(),
            ));
        }
        let endpoint = endpoint(config.api, &config.url)?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|error| EmbedError::Config(format!("HTTP client: {error}")))?;
        Ok(Self {
            backoff: retry::backoff(config.max_retries, config.retry_base_delay),
            breaker: CircuitBreaker::new(config.breaker_threshold, config.breaker_cooldown),
            config,
            endpoint,
            client,
        })
    }

    /// One batch: retried by backon on 5xx, timeouts, connection failures and 429s (waiting
    /// what `Retry-After` asks, unless that is over the limit), never on a refusal or a bad
    /// answer, and not at all while the circuit is open.
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        (|| self.guarded_attempt(texts))
            .retry(self.backoff)
            .when(|error| retry::retryable(error, self.config.max_retry_after))
            .adjust(retry::wait)
            .notify(|error, delay| {
                tracing::debug!(%error, delay_ms = delay.as_millis() as u64, "retrying embedding batch");
            })
            .await
    }

    /// One request through the circuit breaker. Only 5xx, timeouts and connection failures
    /// count against the provider: a 429 or a refusal means it is up and answering.
    async fn guarded_attempt(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.breaker.admit()?;
        let outcome = self.attempt(texts).await;
        match &outcome {
            Ok(_) => self.breaker.record_success(),
            Err(EmbedError::Unavailable(_)) => self.breaker.record_failure(),
            Err(_) => self.breaker.release_probe(),
        }
        outcome
    }

    /// One request; `Unavailable` and `RateLimited` are the errors worth retrying.
    async fn attempt(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = match self.config.api {
            Api::OpenAi => {
                json!({ "model": self.config.model, "input": texts, "encoding_format": "float" })
            }
            Api::Ollama => json!({ "model": self.config.model, "input": texts }),
        };
        let mut request = self.client.post(self.endpoint.clone()).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|error| {
            let kind = if error.is_timeout() {
                "timed out"
            } else {
                "request failed"
            };
            EmbedError::Unavailable(format!("{} {kind}: {}", self.endpoint, without_url(&error)))
        })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(EmbedError::RateLimited {
                retry_after: retry::retry_after(response.headers()),
            });
        }
        let bytes = response.bytes().await.map_err(|error| {
            EmbedError::Unavailable(format!(
                "reading the response failed: {}",
                without_url(&error)
            ))
        })?;
        if status.is_server_error() {
            return Err(EmbedError::Unavailable(format!(
                "{status}: {}",
                excerpt(&bytes)
            )));
        }
        if !status.is_success() {
            return Err(EmbedError::Rejected {
                status: status.as_u16(),
                message: excerpt(&bytes),
            });
        }
        let vectors = parse(self.config.api, &bytes)?;
        self.check(texts.len(), vectors)
    }

    fn check(&self, expected: usize, vectors: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if vectors.len() != expected {
            return Err(EmbedError::InvalidResponse(format!(
                "{} vectors for {expected} texts",
                vectors.len()
            )));
        }
        if let Some(wrong) = vectors.iter().find(|v| v.len() != self.config.dimension) {
            return Err(EmbedError::DimensionMismatch {
                model: self.config.model.clone(),
                expected: self.config.dimension,
                got: wrong.len(),
            });
        }
        if vectors.iter().flatten().any(|x| !x.is_finite()) {
            return Err(EmbedError::InvalidResponse(
                "a vector has NaN or infinite components".into(),
            ));
        }
        Ok(vectors)
    }
}

fn endpoint(api: Api, base: &str) -> Result<Url, EmbedError> {
    let path = match api {
        Api::OpenAi => "embeddings",
        Api::Ollama => "api/embed",
    };
    let trimmed = base.trim_end_matches('/');
    let full = if trimmed.ends_with(&format!("/{path}")) {
        trimmed.to_owned()
    } else if api == Api::OpenAi && !trimmed.ends_with("/v1") {
        format!("{trimmed}/v1/{path}")
    } else {
        format!("{trimmed}/{path}")
    };
    Url::parse(&full)
        .map_err(|error| EmbedError::Config(format!("EMBEDDING_URL `{base}`: {error}")))
}

/// reqwest errors include the URL; ours already names the endpoint, and a query string
/// could carry a key.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| {
            json.pointer("/error/message")
                .or_else(|| json.get("error"))
                .and_then(|m| m.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| text.into_owned());
    message.chars().take(300).collect()
}

fn parse(api: Api, body: &[u8]) -> Result<Vec<Vec<f32>>, EmbedError> {
    #[derive(Deserialize)]
    struct OpenAi {
        data: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        index: usize,
        embedding: Vec<f32>,
    }
    #[derive(Deserialize)]
    struct Ollama {
        embeddings: Vec<Vec<f32>>,
    }
    let invalid = |error: serde_json::Error| EmbedError::InvalidResponse(error.to_string());
    match api {
        Api::OpenAi => {
            let mut data = serde_json::from_slice::<OpenAi>(body)
                .map_err(invalid)?
                .data;
            data.sort_by_key(|item| item.index);
            if data.iter().enumerate().any(|(i, item)| item.index != i) {
                return Err(EmbedError::InvalidResponse("indexes are not 0..n".into()));
            }
            Ok(data.into_iter().map(|item| item.embedding).collect())
        }
        Api::Ollama => Ok(serde_json::from_slice::<Ollama>(body)
            .map_err(invalid)?
            .embeddings),
    }
}

#[async_trait]
impl Embedder for HttpEmbedder {
    fn model(&self) -> &str {
        &self.config.model
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if let Some(position) = texts.iter().position(|text| text.trim().is_empty()) {
            return Err(EmbedError::InvalidInput(format!(
                "text {position} is empty"
            )));
        }
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_a_base_or_the_full_path() {
        for (api, base, expected) in [
            (
                Api::OpenAi,
                "https://api.openai.com/v1",
                "https://api.openai.com/v1/embeddings",
            ),
            (
                Api::OpenAi,
                "http://vllm:8000",
                "http://vllm:8000/v1/embeddings",
            ),
            (
                Api::OpenAi,
                "http://tei/v1/embeddings/",
                "http://tei/v1/embeddings",
            ),
            (
                Api::Ollama,
                "http://localhost:11434",
                "http://localhost:11434/api/embed",
            ),
        ] {
            let url = endpoint(api, base).expect("valid").to_string();
            assert_eq!(url, expected, "{base}");
        }
        assert!(endpoint(Api::Ollama, "not a url").is_err());
    }

    #[test]
    fn error_bodies_are_summarised() {
        assert_eq!(
            excerpt(br#"{"error":{"message":"bad model"}}"#),
            "bad model"
        );
        assert_eq!(
            excerpt(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(excerpt(b"plain"), "plain");
    }
}
