//! Floors measured in the same run as the backends: an exact brute-force scan (also the
//! reference for recall) and the raw engine, called directly with no async, channel or gRPC
//! layer in between.

use std::time::{Duration, Instant};

use anyhow::Context;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    DEFAULT_VECTOR_NAME, Distance as EdgeDistance, EdgeConfigBuilder, EdgeShard,
    EdgeVectorParamsBuilder, NamedQuery, Payload as EdgePayload, PointId, PointInsertOperations,
    PointOperations, PointStructPersisted, QueryEnum, QueryRequest, ScoringQuery, UpdateOperation,
    VectorStructPersisted, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use crate::dataset::{Dataset, RECALL_QUERIES, TOP_K};
use crate::report::Latencies;

pub struct Exact {
    pub latencies: Latencies,
    pub top: Vec<Vec<Uuid>>,
}

/// Exact top-k by scanning every vector: the reference for recall and a latency floor.
pub fn brute_force(data: &Dataset) -> Exact {
    let mut latencies = Vec::new();
    let mut top = Vec::new();
    for query in data.queries.iter().take(RECALL_QUERIES) {
        let started = Instant::now();
        let mut scored: Vec<(f32, usize)> = data
            .vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(query).map(|(a, b)| a * b).sum(), i))
            .collect();
        scored.select_nth_unstable_by(TOP_K, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(TOP_K);
        latencies.push(started.elapsed());
        top.push(scored.into_iter().map(|(_, i)| data.ids[i]).collect());
    }
    Exact {
        latencies: Latencies::new(latencies),
        top,
    }
}

pub fn recall(found: &[Vec<Uuid>], exact: &[Vec<Uuid>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(exact)
        .map(|(f, e)| f.iter().filter(|id| e.contains(id)).count())
        .sum();
    hits as f64 / (exact.len() * TOP_K).max(1) as f64
}

pub struct Raw {
    pub update: Duration,
    pub durable: Duration,
    pub optimize: Duration,
    pub queries: Latencies,
    pub top: Vec<Vec<Uuid>>,
}

pub fn raw_engine(data: &Dataset, batch: usize) -> anyhow::Result<Raw> {
    let open = |dir: &tempfile::TempDir| {
        let params =
            EdgeVectorParamsBuilder::new(data.vectors[0].len(), EdgeDistance::Cosine).build();
        let config = EdgeConfigBuilder::new()
            .vector(DEFAULT_VECTOR_NAME, params)
            .build();
        EdgeShard::new(dir.path(), config).map_err(|e| anyhow::anyhow!("{e}"))
    };
    let upsert = |shard: &EdgeShard, start: usize, flush: bool| -> anyhow::Result<()> {
        let points = (start..(start + batch).min(data.ids.len()))
            .map(|i| PointStructPersisted {
                id: PointId::Uuid(data.ids[i]),
                vector: VectorStructPersisted::from(data.vectors[i].clone()),
                payload: Some(EdgePayload(Dataset::payload(i))),
            })
            .collect();
        shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if flush {
            shard.flush();
        }
        Ok(())
    };
    // Durable run first, so the other run's page-cache write-back cannot slow its flushes.
    let (first, second) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let shard = open(&first)?;
    let started = Instant::now();
    for start in (0..data.ids.len()).step_by(batch) {
        upsert(&shard, start, true)?;
    }
    let durable = started.elapsed();
    let fast = open(&second)?;
    let started = Instant::now();
    for start in (0..data.ids.len()).step_by(batch) {
        upsert(&fast, start, false)?;
    }
    let update = started.elapsed();
    drop(fast);
    let started = Instant::now();
    shard
        .optimize()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("optimize")?;
    let optimize = started.elapsed();
    let mut latencies = Vec::new();
    let mut top = Vec::new();
    for query in &data.queries {
        let request = QueryRequest {
            prefetches: Vec::new(),
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                NamedQuery::default_dense(query.clone()),
            ))),
            filter: None,
            score_threshold: None::<OrderedFloat<f32>>,
            limit: TOP_K,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        };
        let started = Instant::now();
        let hits = shard.query(request).map_err(|e| anyhow::anyhow!("{e}"))?;
        latencies.push(started.elapsed());
        if top.len() < RECALL_QUERIES {
            top.push(
                hits.into_iter()
                    .filter_map(|h| match h.id {
                        PointId::Uuid(id) => Some(id),
                        PointId::NumId(_) => None,
                    })
                    .collect(),
            );
        }
    }
    Ok(Raw {
        update,
        durable,
        optimize,
        queries: Latencies::new(latencies),
        top,
    })
}
