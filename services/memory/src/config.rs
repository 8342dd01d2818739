//! The memory service's settings (see `.env.example`). The vector index, the embedder and
//! token verification read their own variables (`vector`, `embed`, `authn` crates).

use serde::Deserialize;

/// Read from the environment; field `memory_chunk_size` is `MEMORY_CHUNK_SIZE`.
#[derive(Debug, Clone, Deserialize)]
pub struct MemoryConfig {
    /// `MEMORY_COLLECTION`: the vector collection holding one point per chunk.
    #[serde(default = "defaults::collection")]
    pub memory_collection: String,
    /// Largest chunk, in characters (Unicode scalar values).
    #[serde(default = "defaults::chunk_size")]
    pub memory_chunk_size: usize,
    /// Characters shared by neighbouring chunks, so a sentence cut at a border is still
    /// found whole in one of them.
    #[serde(default = "defaults::chunk_overlap")]
    pub memory_chunk_overlap: usize,
    /// Largest document text accepted, in bytes.
    #[serde(default = "defaults::max_document_bytes")]
    pub memory_max_document_bytes: usize,
    /// Chunks embedded and upserted per batch by the indexer.
    #[serde(default = "defaults::index_batch")]
    pub memory_index_batch: usize,
    /// How often the indexer looks for chunks still missing their vector.
    #[serde(default = "defaults::indexer_interval_secs")]
    pub memory_indexer_interval_secs: u64,
    /// How often the indexer deletes vectors whose chunk is gone (the first time at start);
    /// 0: only at start.
    #[serde(default = "defaults::orphan_sweep_interval_secs")]
    pub memory_orphan_sweep_interval_secs: u64,
    /// The PostgreSQL text-search configuration (`english`, `german`, `simple`, ...) that
    /// new chunks' full-text vectors are derived with and lexical queries are parsed with.
    #[serde(default = "defaults::search_language")]
    pub memory_search_language: String,
    /// Seconds `POST /api/memory/import` may run, instead of `REQUEST_TIMEOUT_SECS`: a
    /// 256 MiB body takes minutes at ~1,000-2,000 documents a second.
    #[serde(default = "defaults::import_timeout_secs")]
    pub memory_import_timeout_secs: u64,
}

mod defaults {
    pub fn collection() -> String {
        "devmentor_chunks".into()
    }
    pub fn chunk_size() -> usize {
        1000
    }
    pub fn chunk_overlap() -> usize {
        150
    }
    pub fn max_document_bytes() -> usize {
        4 * 1024 * 1024
    }
    pub fn index_batch() -> usize {
        64
    }
    pub fn indexer_interval_secs() -> u64 {
        15
    }
    pub fn orphan_sweep_interval_secs() -> u64 {
        3600
    }
    pub fn search_language() -> String {
        "english".into()
    }
    pub fn import_timeout_secs() -> u64 {
        600
    }
}

impl MemoryConfig {
    /// Rejects settings that cannot work, with the variable to fix.
    pub fn validate(&self) -> Result<(), String> {
        vector::validate_collection_name(&self.memory_collection)
            .map_err(|error| format!("MEMORY_COLLECTION: {error}"))?;
        if !(50..=100_000).contains(&self.memory_chunk_size) {
            return Err(format!(
                "MEMORY_CHUNK_SIZE must be between 50 and 100000 characters, got {}",
                self.memory_chunk_size
            ));
        }
        if self.memory_chunk_overlap >= self.memory_chunk_size / 2 {
            return Err(format!(
                "MEMORY_CHUNK_OVERLAP ({}) must be under half of MEMORY_CHUNK_SIZE ({})",
                self.memory_chunk_overlap, self.memory_chunk_size
            ));
        }
        if !(1..=1024).contains(&self.memory_index_batch) {
            return Err("MEMORY_INDEX_BATCH must be between 1 and 1024".into());
        }
        if self.memory_max_document_bytes == 0 {
            return Err("MEMORY_MAX_DOCUMENT_BYTES must be above 0".into());
        }
        if self.memory_import_timeout_secs == 0 {
            return Err("MEMORY_IMPORT_TIMEOUT_SECS must be above 0".into());
        }
        if !is_configuration_name(&self.memory_search_language) {
            return Err(format!(
                "MEMORY_SEARCH_LANGUAGE must name a PostgreSQL text-search configuration \
                 (lower-case letters, digits, `_`; e.g. english, german, simple), got `{}`",
                self.memory_search_language
            ));
        }
        Ok(())
    }

    /// Seconds between orphan sweeps after the one at start; `None` when only that one runs.
    pub fn orphan_sweep_interval(&self) -> Option<std::time::Duration> {
        (self.memory_orphan_sweep_interval_secs > 0)
            .then(|| std::time::Duration::from_secs(self.memory_orphan_sweep_interval_secs))
    }

    /// How long an import may run (`MEMORY_IMPORT_TIMEOUT_SECS`).
    pub fn import_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.memory_import_timeout_secs)
    }
}

/// An unqualified identifier as `pg_ts_config` names them. Whether PostgreSQL has it is
/// checked at start against the database (`AppState::open`).
fn is_configuration_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            memory_collection: defaults::collection(),
            memory_chunk_size: defaults::chunk_size(),
            memory_chunk_overlap: defaults::chunk_overlap(),
            memory_max_document_bytes: defaults::max_document_bytes(),
            memory_index_batch: defaults::index_batch(),
            memory_indexer_interval_secs: defaults::indexer_interval_secs(),
            memory_orphan_sweep_interval_secs: defaults::orphan_sweep_interval_secs(),
            memory_search_language: defaults::search_language(),
            memory_import_timeout_secs: defaults::import_timeout_secs(),
        }
    }
}

/// Everything the memory service reads at start, for the server and the `reindex` command.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub memory: MemoryConfig,
    pub vector: vector::VectorConfig,
    pub embedding: embed::EmbeddingConfig,
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        let settings = Self {
            memory: platform::config::from_env().map_err(|error| error.to_string())?,
            vector: platform::config::from_env().map_err(|error| error.to_string())?,
            embedding: platform::config::from_env().map_err(|error| error.to_string())?,
        };
        settings.memory.validate()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_may_run_ten_minutes_unless_set_and_never_zero() {
        let defaults = MemoryConfig::default();
        assert_eq!(
            defaults.import_timeout(),
            std::time::Duration::from_secs(600)
        );
        assert_eq!(defaults.validate(), Ok(()));
        let never = MemoryConfig {
            memory_import_timeout_secs: 0,
            ..MemoryConfig::default()
        };
        let error = never.validate().unwrap_err();
        assert!(error.contains("MEMORY_IMPORT_TIMEOUT_SECS"), "{error}");
    }
}
