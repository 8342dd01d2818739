//! Our request types in the embedded engine's terms, and its answers back in ours.

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition as EdgeCondition, DateTimeWrapper, Distance as EdgeDistance, FieldCondition,
    Filter as EdgeFilter, JsonPath, Match, Payload as EdgePayload, PayloadFieldSchema,
    PayloadSchemaType, PointId, PointStructPersisted, Range, VectorStructPersisted,
};
use uuid::Uuid;

use crate::{
    Condition, DatetimeRange, Distance, FieldKind, Filter, NumberRange, Payload, Point, VectorError,
};

pub(crate) fn distance(distance: Distance) -> EdgeDistance {
    match distance {
        Distance::Cosine => EdgeDistance::Cosine,
        Distance::Dot => EdgeDistance::Dot,
        Distance::Euclid => EdgeDistance::Euclid,
    }
}

pub(crate) fn field_schema(kind: FieldKind) -> PayloadFieldSchema {
    PayloadFieldSchema::FieldType(match kind {
        FieldKind::Keyword => PayloadSchemaType::Keyword,
        FieldKind::Integer => PayloadSchemaType::Integer,
        FieldKind::Float => PayloadSchemaType::Float,
        FieldKind::Datetime => PayloadSchemaType::Datetime,
        FieldKind::Uuid => PayloadSchemaType::Uuid,
    })
}

pub(crate) fn json_path(field: &str) -> Result<JsonPath, VectorError> {
    field
        .parse::<JsonPath>()
        .map_err(|_| VectorError::InvalidRequest(format!("`{field}` is not a valid field path")))
}

/// `PointStructPersisted` directly: `PointStruct::new` panics on a non-object payload, and
/// ours cannot be anything but an object.
pub(crate) fn point(point: Point) -> PointStructPersisted {
    PointStructPersisted {
        id: PointId::Uuid(point.id),
        vector: VectorStructPersisted::from(point.vector),
        payload: Some(EdgePayload(point.payload)),
    }
}

pub(crate) fn point_ids(ids: &[Uuid]) -> Vec<PointId> {
    ids.iter().copied().map(PointId::Uuid).collect()
}

pub(crate) fn uuid(id: PointId) -> Result<Uuid, VectorError> {
    match id {
        PointId::Uuid(uuid) => Ok(uuid),
        PointId::NumId(number) => Err(VectorError::Backend(format!(
            "point id {number} is not a UUID; this collection was not written by DevMentor"
        ))),
    }
}

pub(crate) fn payload(payload: Option<EdgePayload>) -> Option<Payload> {
    payload.map(|EdgePayload(map)| map)
}

pub(crate) fn filter(filter: &Filter) -> Result<EdgeFilter, VectorError> {
    filter.validate()?;
    let conditions = |list: &[Condition]| -> Result<Option<Vec<EdgeCondition>>, VectorError> {
        if list.is_empty() {
            return Ok(None);
        }
        list.iter()
            .map(condition)
            .collect::<Result<_, _>>()
            .map(Some)
    };
    Ok(EdgeFilter {
        should: None,
        min_should: None,
        must: conditions(&filter.must)?,
        must_not: conditions(&filter.must_not)?,
    })
}

fn condition(condition: &Condition) -> Result<EdgeCondition, VectorError> {
    let key = json_path(condition.field())?;
    let field = match condition {
        Condition::Keyword { any_of, .. } => match any_of.as_slice() {
            [one] => FieldCondition::new_match(key, Match::from(one.clone())),
            _ => FieldCondition::new_match(key, Match::from(any_of.clone())),
        },
        Condition::Integer { any_of, .. } => match any_of.as_slice() {
            [one] => FieldCondition::new_match(key, Match::from(*one)),
            _ => FieldCondition::new_match(key, Match::from(any_of.clone())),
        },
        Condition::Range { range, .. } => FieldCondition::new_range(key, number_range(range)),
        Condition::Datetime { range, .. } => {
            FieldCondition::new_datetime_range(key, datetime_range(range))
        }
    };
    Ok(EdgeCondition::Field(field))
}

fn number_range(range: &NumberRange) -> Range<OrderedFloat<f64>> {
    Range {
        lt: range.lt.map(OrderedFloat),
        gt: range.gt.map(OrderedFloat),
        gte: range.gte.map(OrderedFloat),
        lte: range.lte.map(OrderedFloat),
    }
}

fn datetime_range(range: &DatetimeRange) -> Range<DateTimeWrapper> {
    Range {
        lt: range.lt.map(DateTimeWrapper),
        gt: range.gt.map(DateTimeWrapper),
        gte: range.gte.map(DateTimeWrapper),
        lte: range.lte.map(DateTimeWrapper),
    }
}
