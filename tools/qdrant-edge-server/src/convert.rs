//! Qdrant's gRPC requests in `vector`'s terms (the subset DevMentor sends); anything else is
//! refused with `INVALID_ARGUMENT` naming what is unsupported.

use qdrant_client::qdrant::{
    self, condition::ConditionOneOf, r#match::MatchValue, point_id::PointIdOptions,
    vector::Vector as VectorOneOf, vectors::VectorsOptions,
};
use tonic::Status;
use uuid::Uuid;
use vector::{Condition, DatetimeRange, FieldKind, Filter, NumberRange, Point, grpc};

fn unsupported(what: &str) -> Status {
    Status::invalid_argument(format!(
        "{what} is not supported by qdrant-edge-server (a test helper, not Qdrant)"
    ))
}

pub(crate) fn uuid(id: Option<qdrant::PointId>) -> Result<Uuid, Status> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => Uuid::parse_str(&text)
            .map_err(|_| Status::invalid_argument(format!("`{text}` is not a UUID"))),
        Some(PointIdOptions::Num(_)) => Err(unsupported("a numeric point id")),
        None => Err(Status::invalid_argument("point id is missing")),
    }
}

pub(crate) fn point(point: qdrant::PointStruct) -> Result<Point, Status> {
    let vector = match point.vectors.and_then(|vectors| vectors.vectors_options) {
        Some(VectorsOptions::Vector(vector)) => dense(vector)?,
        Some(VectorsOptions::Vectors(_)) => return Err(unsupported("named vectors")),
        None => return Err(Status::invalid_argument("point has no vector")),
    };
    Ok(Point::new(
        uuid(point.id)?,
        vector,
        grpc::payload_from(point.payload),
    ))
}

#[allow(deprecated)] // Older clients send the flat `data` field instead of the `vector` oneof.
fn dense(vector: qdrant::Vector) -> Result<Vec<f32>, Status> {
    match vector.vector {
        Some(VectorOneOf::Dense(dense)) => Ok(dense.data),
        Some(_) => Err(unsupported("a sparse, multi or inference vector")),
        None if vector.indices.is_none() && vector.vectors_count.is_none() => Ok(vector.data),
        None => Err(unsupported("a sparse or multi vector")),
    }
}

pub(crate) fn field_kind(field_type: Option<i32>) -> Result<FieldKind, Status> {
    match field_type.map(qdrant::FieldType::try_from) {
        Some(Ok(qdrant::FieldType::Keyword)) => Ok(FieldKind::Keyword),
        Some(Ok(qdrant::FieldType::Integer)) => Ok(FieldKind::Integer),
        Some(Ok(qdrant::FieldType::Float)) => Ok(FieldKind::Float),
        Some(Ok(qdrant::FieldType::Datetime)) => Ok(FieldKind::Datetime),
        Some(Ok(qdrant::FieldType::Uuid)) => Ok(FieldKind::Uuid),
        Some(Ok(other)) => Err(unsupported(&format!("a {} index", other.as_str_name()))),
        Some(Err(_)) | None => Err(Status::invalid_argument("field index type is missing")),
    }
}

pub(crate) fn filter(filter: Option<qdrant::Filter>) -> Result<Option<Filter>, Status> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    if !filter.should.is_empty() || filter.min_should.is_some() {
        return Err(unsupported("a `should` filter"));
    }
    let conditions = |list: Vec<qdrant::Condition>| -> Result<Vec<Condition>, Status> {
        list.into_iter().map(condition).collect()
    };
    Ok(Some(Filter {
        must: conditions(filter.must)?,
        must_not: conditions(filter.must_not)?,
    }))
}

fn condition(condition: qdrant::Condition) -> Result<Condition, Status> {
    let Some(ConditionOneOf::Field(field)) = condition.condition_one_of else {
        return Err(unsupported("a condition other than a field condition"));
    };
    let key = field.key;
    match (field.r#match, field.range, field.datetime_range) {
        (Some(matched), None, None) => match matched.match_value {
            Some(MatchValue::Keyword(value)) => Ok(Condition::keyword(key, value)),
            Some(MatchValue::Keywords(values)) => Ok(Condition::keyword_any(key, values.strings)),
            Some(MatchValue::Integer(value)) => Ok(Condition::integer_any(key, [value])),
            Some(MatchValue::Integers(values)) => Ok(Condition::integer_any(key, values.integers)),
            _ => Err(unsupported("this kind of match")),
        },
        (None, Some(range), None) => Ok(Condition::range(
            key,
            NumberRange {
                gt: range.gt,
                gte: range.gte,
                lt: range.lt,
                lte: range.lte,
            },
        )),
        (None, None, Some(range)) => {
            let time = |stamp: Option<prost_types::Timestamp>| {
                stamp
                    .map(|stamp| grpc::datetime_from(&stamp))
                    .transpose()
                    .map_err(crate::status)
            };
            Ok(Condition::datetime(
                key,
                DatetimeRange {
                    gt: time(range.gt)?,
                    gte: time(range.gte)?,
                    lt: time(range.lt)?,
                    lte: time(range.lte)?,
                },
            ))
        }
        _ => Err(unsupported("a field condition with none or several tests")),
    }
}

pub(crate) fn with_payload(selector: Option<qdrant::WithPayloadSelector>) -> Result<bool, Status> {
    use qdrant::with_payload_selector::SelectorOptions;
    match selector.and_then(|selector| selector.selector_options) {
        None => Ok(false),
        Some(SelectorOptions::Enable(enable)) => Ok(enable),
        Some(_) => Err(unsupported("selecting payload fields")),
    }
}

pub(crate) fn scored_point(point: vector::ScoredPoint) -> qdrant::ScoredPoint {
    qdrant::ScoredPoint {
        id: Some(grpc::point_id(point.id)),
        payload: point.payload.map(grpc::payload).unwrap_or_default(),
        score: point.score,
        ..qdrant::ScoredPoint::default()
    }
}

pub(crate) fn completed(started: std::time::Instant) -> qdrant::PointsOperationResponse {
    qdrant::PointsOperationResponse {
        result: Some(qdrant::UpdateResult {
            operation_id: None,
            status: qdrant::UpdateStatus::Completed.into(),
        }),
        time: started.elapsed().as_secs_f64(),
        usage: None,
    }
}
