//! The OpenAPI description of this API, served at `/openapi.json`.

use platform::openapi::{ApiErrorBody, ApiErrorDetail, BearerAuth};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "DevMentor memory",
        description = "Documents, chunks and semantic search. Vectors live in the vector index \
                       under the chunk's id; PostgreSQL holds the text and metadata."
    ),
    paths(
        super::documents::ingest,
        super::documents::list,
        super::documents::show,
        super::documents::remove,
        super::search::search,
        super::search::status,
    ),
    components(schemas(ApiErrorBody, ApiErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "documents", description = "Ingest, list, read and delete documents"),
        (name = "search", description = "Semantic search over the chunks you may read"),
    )
)]
pub struct ApiDoc;
