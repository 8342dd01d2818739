//! Which embedder to use, from environment variables (documented in `.env.example`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::EmbedError;
use crate::hashing::{DEFAULT_DIMENSION, MODEL as HASH_MODEL};
use crate::http::{Api, HttpConfig};

/// `EMBEDDING_PROVIDER`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Provider {
    /// The offline hashing embedder (default).
    #[default]
    Hash,
    /// Any OpenAI-compatible `/v1/embeddings` (OpenAI, vLLM, TEI, LM Studio).
    Openai,
    /// Ollama's `/api/embed`.
    Ollama,
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "hash" => Ok(Provider::Hash),
            "openai" => Ok(Provider::Openai),
            "ollama" => Ok(Provider::Ollama),
            other => Err(format!(
                "EMBEDDING_PROVIDER must be hash, openai or ollama, got `{other}`"
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct EmbeddingConfig {
    /// `EMBEDDING_PROVIDER`: `hash` (default), `openai` or `ollama`.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub embedding_provider: Option<Provider>,
    /// `EMBEDDING_MODEL`, e.g. `text-embedding-3-small`, `nomic-embed-text`. Required for
    /// HTTP providers; the hash provider's model is fixed.
    pub embedding_model: Option<String>,
    /// `EMBEDDING_URL`: base URL; defaults to OpenAI's or a local Ollama.
    pub embedding_url: Option<String>,
    /// `EMBEDDING_API_KEY`, sent as a bearer token.
    pub embedding_api_key: Option<SecretString>,
    /// `EMBEDDING_DIM`: the model's vector size. Required for HTTP providers (checked on
    /// every response); the hash provider defaults to 384.
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub embedding_dim: Option<usize>,
    /// `EMBEDDING_BATCH_SIZE` texts per request (64).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub embedding_batch_size: Option<usize>,
    /// `EMBEDDING_TIMEOUT_SECS` per request (30).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub embedding_timeout_secs: Option<u64>,
    /// `EMBEDDING_MAX_RETRIES` per batch (3).
    #[serde(default, deserialize_with = "platform::config::empty_as_none")]
    pub embedding_max_retries: Option<u32>,
}

/// What [`EmbeddingConfig::resolve`] decided.
#[derive(Debug, Clone)]
pub enum Resolved {
    Hash { dimension: usize },
    Http(HttpConfig),
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl EmbeddingConfig {
    pub fn from_env() -> Result<Self, EmbedError> {
        platform::config::from_env().map_err(|error| EmbedError::Config(error.to_string()))
    }

    pub fn resolve(&self) -> Result<Resolved, EmbedError> {
        let model = non_empty(&self.embedding_model);
        let provider = self.embedding_provider.unwrap_or_default();
        let (api, default_url) = match provider {
            Provider::Hash => {
                if let Some(model) = model.filter(|model| *model != HASH_MODEL) {
                    return Err(EmbedError::Config(format!(
                        "EMBEDDING_MODEL={model} needs EMBEDDING_PROVIDER=openai or ollama; \
                         the hash provider's model is {HASH_MODEL}"
                    )));
                }
                return Ok(Resolved::Hash {
                    dimension: self.embedding_dim.unwrap_or(DEFAULT_DIMENSION),
                });
            }
            Provider::Openai => (Api::OpenAi, "https://api.openai.com/v1"),
            Provider::Ollama => (Api::Ollama, "http://localhost:11434"),
        };
        let model = model.ok_or_else(|| {
            EmbedError::Config("EMBEDDING_MODEL is required for this EMBEDDING_PROVIDER".into())
        })?;
        let dimension = self.embedding_dim.ok_or_else(|| {
            EmbedError::Config(format!(
                "EMBEDDING_DIM is required for EMBEDDING_PROVIDER={:?}: the size of `{model}`'s \
                 vectors (e.g. 1536 for text-embedding-3-small, 768 for nomic-embed-text)",
                provider
            ))
        })?;
        let url = non_empty(&self.embedding_url).unwrap_or(default_url);
        let mut config = HttpConfig::new(api, url, model, dimension);
        config.api_key = self
            .embedding_api_key
            .clone()
            .filter(|key| !key.expose_secret().is_empty());
        if let Some(size) = self.embedding_batch_size {
            if !(1..=2048).contains(&size) {
                return Err(EmbedError::Config(format!(
                    "EMBEDDING_BATCH_SIZE must be between 1 and 2048, got {size}"
                )));
            }
            config.batch_size = size;
        }
        if let Some(secs) = self.embedding_timeout_secs {
            config.timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(retries) = self.embedding_max_retries {
            config.max_retries = retries;
        }
        Ok(Resolved::Http(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(vars: &[(&str, &str)]) -> Result<Resolved, EmbedError> {
        let pairs = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        envy::from_iter::<_, EmbeddingConfig>(pairs)
            .expect("parses")
            .resolve()
    }

    #[test]
    fn nothing_configured_means_the_hash_embedder() {
        assert!(matches!(
            resolve(&[]),
            Ok(Resolved::Hash { dimension: 384 })
        ));
        assert!(matches!(
            resolve(&[("EMBEDDING_DIM", "256")]),
            Ok(Resolved::Hash { dimension: 256 })
        ));
    }

    #[test]
    fn http_providers_need_a_model_and_a_dimension() {
        let error = resolve(&[("EMBEDDING_PROVIDER", "openai")]).expect_err("no model");
        assert!(error.to_string().contains("EMBEDDING_MODEL"), "{error}");
        let error = resolve(&[
            ("EMBEDDING_PROVIDER", "ollama"),
            ("EMBEDDING_MODEL", "nomic-embed-text"),
        ])
        .expect_err("no dimension");
        assert!(error.to_string().contains("EMBEDDING_DIM"), "{error}");
        let error = resolve(&[("EMBEDDING_MODEL", "text-embedding-3-small")]).expect_err("hash");
        assert!(error.to_string().contains("EMBEDDING_PROVIDER"), "{error}");
    }

    #[test]
    fn empty_values_mean_unset() {
        let empty = [
            ("EMBEDDING_PROVIDER", ""),
            ("EMBEDDING_DIM", ""),
            ("EMBEDDING_MODEL", ""),
        ];
        assert!(matches!(
            resolve(&empty),
            Ok(Resolved::Hash { dimension: 384 })
        ));
        let pairs = [("EMBEDDING_DIM".to_owned(), "big".to_owned())];
        let error = envy::from_iter::<_, EmbeddingConfig>(pairs).expect_err("not a number");
        assert!(error.to_string().contains("`big`"), "{error}");
    }

    #[test]
    fn http_providers_default_their_urls() {
        let Ok(Resolved::Http(config)) = resolve(&[
            ("EMBEDDING_PROVIDER", "ollama"),
            ("EMBEDDING_MODEL", "nomic-embed-text"),
            ("EMBEDDING_DIM", "768"),
            ("EMBEDDING_API_KEY", ""),
        ]) else {
            panic!("expected an HTTP config");
        };
        assert_eq!(config.url, "http://localhost:11434");
        assert_eq!(config.api, Api::Ollama);
        assert!(config.api_key.is_none());
    }
}
