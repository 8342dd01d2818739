//! The vector benchmark's data: clustered unit vectors, their ids and payloads, and queries.
//! Shared by the measured runs (`vector`) and their floors (`floors`).

use serde_json::json;
use uuid::Uuid;
use vector::Point;

use crate::VectorArgs;

pub const TOP_K: usize = 10;
pub const RECALL_QUERIES: usize = 100;

pub struct Dataset {
    pub ids: Vec<Uuid>,
    pub vectors: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn random_unit(dim: usize, rng: &mut fastrand::Rng) -> Vec<f32> {
    normalised((0..dim).map(|_| rng.f32() * 2.0 - 1.0).collect())
}

/// `base` moved by a random offset of length `distance`, re-normalised.
fn jitter(base: &[f32], distance: f32, rng: &mut fastrand::Rng) -> Vec<f32> {
    let offset = random_unit(base.len(), rng);
    normalised(
        base.iter()
            .zip(offset)
            .map(|(b, o)| b + distance * o)
            .collect(),
    )
}

impl Dataset {
    /// Clustered like real embeddings (uniform random vectors in 384 dimensions are all
    /// nearly equidistant, which no approximate index handles and no model produces):
    /// 1 point in 100 is a cluster centre; points sit around centres; queries sit near points.
    pub fn generate(args: &VectorArgs) -> Self {
        let mut rng = fastrand::Rng::with_seed(42);
        let centres: Vec<Vec<f32>> = (0..(args.points / 100).max(1))
            .map(|_| random_unit(args.dim, &mut rng))
            .collect();
        let vectors: Vec<Vec<f32>> = (0..args.points)
            .map(|_| jitter(&centres[rng.usize(..centres.len())], 0.7, &mut rng))
            .collect();
        let queries = (0..args.queries.max(RECALL_QUERIES))
            .map(|_| jitter(&vectors[rng.usize(..vectors.len())], 0.3, &mut rng))
            .collect();
        Self {
            ids: (0..args.points)
                .map(|i| Uuid::from_u64_pair(0xbe9c, i as u64))
                .collect(),
            vectors,
            queries,
        }
    }

    pub fn payload(i: usize) -> serde_json::Map<String, serde_json::Value> {
        let payload = json!({ "document_id": format!("doc-{}", i % 1000), "chunk_index": i });
        vector::payload_from_json(payload).unwrap_or_default()
    }

    pub fn point(&self, i: usize) -> Point {
        Point::new(self.ids[i], self.vectors[i].clone(), Self::payload(i))
    }
}
