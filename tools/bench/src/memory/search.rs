//! The search figures' two sides: the load sent to the service ([`SearchLoad`]) and its
//! floor, the index answering the same queries alone ([`IndexAlone`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::MemoryArgs;
use crate::http_load::{self, Client, Load, Requests};
use crate::load::{Run, for_duration};
use crate::scratch::Served;

/// The floor of the search figures: the same queries' vectors sent straight to the index,
/// with the filter every search of the service carries (the user's and shared documents).
pub(super) struct IndexAlone {
    index: Arc<dyn vector::VectorIndex>,
    collection: String,
    filter: vector::Filter,
    vectors: Vec<Vec<f32>>,
}

impl IndexAlone {
    /// `vectors` asked of `collection` in `index` as `owner`'s searches are.
    pub(super) fn new(
        index: Arc<dyn vector::VectorIndex>,
        collection: String,
        owner: uuid::Uuid,
        vectors: Vec<Vec<f32>>,
    ) -> Self {
        let owners = [owner.to_string(), memory::indexing::SHARED_OWNER.to_owned()];
        Self {
            index,
            collection,
            filter: vector::Filter::must(vector::Condition::keyword_any("owner", owners)),
            vectors,
        }
    }

    pub(super) async fn run(&self, concurrency: usize, duration: Duration) -> anyhow::Result<Run> {
        for_duration(concurrency, &self.vectors, duration, |vector| {
            let mut request = vector::SearchRequest::new(vector.clone(), 10);
            request.filter = Some(self.filter.clone());
            request.with_payload = false;
            async move {
                self.index.search(&self.collection, &request).await?;
                Ok(())
            }
        })
        .await
    }
}

/// How the search figures are driven: `queries` POSTed in turn for `duration` over
/// `concurrency` connections, by `client`; each answer must have found something.
pub(super) struct SearchLoad {
    pub(super) client: Client,
    token: Arc<String>,
    /// Request bodies, one per query. Vector mode: its floor is the index alone (the
    /// default, hybrid, also ranks by PostgreSQL full text, which that floor does not).
    bodies: Vec<String>,
    pub(super) concurrency: usize,
    pub(super) duration: Duration,
}

impl SearchLoad {
    pub(super) fn new(args: &MemoryArgs, token: Arc<String>, queries: &[String]) -> Self {
        let bodies = queries
            .iter()
            .map(|query| json!({"query": query, "limit": 10, "mode": "vector"}).to_string())
            .collect();
        Self {
            client: args.client.unwrap_or_else(Client::available),
            token,
            bodies,
            concurrency: args.concurrency,
            duration: Duration::from_secs(args.search_seconds.max(1)),
        }
    }

    /// The searches sent to `served`.
    pub(super) async fn run(&self, served: &Served) -> anyhow::Result<Load> {
        let requests = Requests::PostJson {
            bodies: &self.bodies,
            // The results array opens with a hit: the search found something.
            expect: r#""results":[{"#,
        };
        let url = served.url("/api/memory/search");
        let (token, c) = (self.token.as_str(), self.concurrency);
        http_load::drive(self.client, &url, token, requests, c, self.duration).await
    }
}
