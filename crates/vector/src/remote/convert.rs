//! Our types as Qdrant's gRPC messages, and its answers back. Public because the test
//! server (`qdrant-edge-server`) speaks the same messages in the other direction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use qdrant_client::qdrant::{
    self, condition::ConditionOneOf, r#match::MatchValue, point_id::PointIdOptions, vectors_config,
    with_payload_selector::SelectorOptions,
};
use uuid::Uuid;

use crate::{
    CollectionInfo, CollectionParams, Condition, DatetimeRange, Distance, FieldKind, Filter,
    NumberRange, Payload, VectorError,
};

pub fn distance(distance: Distance) -> qdrant::Distance {
    match distance {
        Distance::Cosine => qdrant::Distance::Cosine,
        Distance::Dot => qdrant::Distance::Dot,
        Distance::Euclid => qdrant::Distance::Euclid,
    }
}

pub fn distance_from(value: i32) -> Result<Distance, VectorError> {
    match qdrant::Distance::try_from(value) {
        Ok(qdrant::Distance::Cosine) => Ok(Distance::Cosine),
        Ok(qdrant::Distance::Dot) => Ok(Distance::Dot),
        Ok(qdrant::Distance::Euclid) => Ok(Distance::Euclid),
        _ => Err(VectorError::Backend(format!(
            "unsupported distance {value} (DevMentor uses Cosine, Dot or Euclid)"
        ))),
    }
}

pub fn field_type(kind: FieldKind) -> qdrant::FieldType {
    match kind {
        FieldKind::Keyword => qdrant::FieldType::Keyword,
        FieldKind::Integer => qdrant::FieldType::Integer,
        FieldKind::Float => qdrant::FieldType::Float,
        FieldKind::Datetime => qdrant::FieldType::Datetime,
        FieldKind::Uuid => qdrant::FieldType::Uuid,
    }
}

pub fn payload(payload: Payload) -> HashMap<String, qdrant::Value> {
    payload
        .into_iter()
        .map(|(key, value)| (key, qdrant::Value::from(value)))
        .collect()
}

pub fn payload_from(payload: HashMap<String, qdrant::Value>) -> Payload {
    payload
        .into_iter()
        .map(|(key, value)| (key, serde_json::Value::from(value)))
        .collect()
}

pub fn point_id(id: Uuid) -> qdrant::PointId {
    qdrant::PointId {
        point_id_options: Some(PointIdOptions::Uuid(id.to_string())),
    }
}

pub fn uuid_from(id: Option<qdrant::PointId>) -> Result<Uuid, VectorError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => Uuid::parse_str(&text)
            .map_err(|_| VectorError::Backend(format!("point id `{text}` is not a UUID"))),
        Some(PointIdOptions::Num(number)) => Err(VectorError::Backend(format!(
            "point id {number} is not a UUID; this collection was not written by DevMentor"
        ))),
        None => Err(VectorError::Backend("point without id".into())),
    }
}

pub fn with_payload(enable: bool) -> qdrant::WithPayloadSelector {
    qdrant::WithPayloadSelector {
        selector_options: Some(SelectorOptions::Enable(enable)),
    }
}

pub fn collection_info(
    name: &str,
    info: qdrant::CollectionInfo,
) -> Result<CollectionInfo, VectorError> {
    let config = info.config.unwrap_or_default();
    let vectors = config
        .params
        .and_then(|params| params.vectors_config)
        .and_then(|vectors| vectors.config);
    let Some(vectors_config::Config::Params(vector)) = vectors else {
        return Err(VectorError::Backend(format!(
            "collection `{name}` does not have a single unnamed dense vector"
        )));
    };
    Ok(CollectionInfo {
        params: CollectionParams {
            dimension: usize::try_from(vector.size).unwrap_or(usize::MAX),
            distance: distance_from(vector.distance)?,
            metadata: payload_from(config.metadata),
        },
        points: info.points_count.unwrap_or(0),
    })
}

pub fn filter(filter: &Filter) -> Result<qdrant::Filter, VectorError> {
    filter.validate()?;
    Ok(qdrant::Filter {
        must: filter.must.iter().map(condition).collect(),
        must_not: filter.must_not.iter().map(condition).collect(),
        ..qdrant::Filter::default()
    })
}

fn condition(condition: &Condition) -> qdrant::Condition {
    let mut field = qdrant::FieldCondition {
        key: condition.field().to_owned(),
        ..qdrant::FieldCondition::default()
    };
    match condition {
        Condition::Keyword { any_of, .. } => {
            field.r#match = Some(qdrant::Match {
                match_value: Some(match any_of.as_slice() {
                    [one] => MatchValue::Keyword(one.clone()),
                    _ => MatchValue::Keywords(qdrant::RepeatedStrings {
                        strings: any_of.clone(),
                    }),
                }),
            });
        }
        Condition::Integer { any_of, .. } => {
            field.r#match = Some(qdrant::Match {
                match_value: Some(match any_of.as_slice() {
                    [one] => MatchValue::Integer(*one),
                    _ => MatchValue::Integers(qdrant::RepeatedIntegers {
                        integers: any_of.clone(),
                    }),
                }),
            });
        }
        Condition::Range { range, .. } => field.range = Some(number_range(range)),
        Condition::Datetime { range, .. } => field.datetime_range = Some(datetime_range(range)),
    }
    qdrant::Condition {
        condition_one_of: Some(ConditionOneOf::Field(field)),
    }
}

fn number_range(range: &NumberRange) -> qdrant::Range {
    qdrant::Range {
        lt: range.lt,
        gt: range.gt,
        gte: range.gte,
        lte: range.lte,
    }
}

fn datetime_range(range: &DatetimeRange) -> qdrant::DatetimeRange {
    qdrant::DatetimeRange {
        lt: range.lt.map(timestamp),
        gt: range.gt.map(timestamp),
        gte: range.gte.map(timestamp),
        lte: range.lte.map(timestamp),
    }
}

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn datetime_from(stamp: &prost_types::Timestamp) -> Result<DateTime<Utc>, VectorError> {
    u32::try_from(stamp.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(stamp.seconds, nanos))
        .ok_or_else(|| VectorError::InvalidRequest(format!("invalid timestamp {stamp:?}")))
}

/// `wait=true` writes report `Completed`; anything else did not finish in time.
pub(crate) fn completed(result: Option<qdrant::UpdateResult>) -> Result<(), VectorError> {
    match result.map(|result| qdrant::UpdateStatus::try_from(result.status)) {
        Some(Ok(qdrant::UpdateStatus::Completed)) => Ok(()),
        other => Err(VectorError::Unavailable(format!(
            "Qdrant did not confirm the write: {other:?}"
        ))),
    }
}
