//! Payload filters: conditions on keyword, integer, numeric and datetime fields.

use chrono::{DateTime, Utc};

use crate::VectorError;

/// Points must satisfy every `must` condition and none of the `must_not` ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub must: Vec<Condition>,
    pub must_not: Vec<Condition>,
}

impl Filter {
    pub fn must(condition: Condition) -> Self {
        Self {
            must: vec![condition],
            must_not: Vec::new(),
        }
    }

    pub fn and(mut self, condition: Condition) -> Self {
        self.must.push(condition);
        self
    }

    pub fn and_not(mut self, condition: Condition) -> Self {
        self.must_not.push(condition);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.must.is_empty() && self.must_not.is_empty()
    }

    /// A filter for deleting: an empty one would match every point.
    pub(crate) fn validate_for_delete(&self) -> Result<(), VectorError> {
        if self.is_empty() {
            return Err(VectorError::InvalidRequest(
                "delete by filter needs at least one condition (use delete_collection to drop everything)"
                    .into(),
            ));
        }
        self.validate()
    }

    pub(crate) fn validate(&self) -> Result<(), VectorError> {
        self.must
            .iter()
            .chain(&self.must_not)
            .try_for_each(Condition::validate)
    }
}

/// One test on a payload field. On an array field, a match means "contains one of".
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The field equals one of `any_of` (one value: a plain match).
    Keyword { field: String, any_of: Vec<String> },
    /// The field equals one of `any_of`.
    Integer { field: String, any_of: Vec<i64> },
    /// The (integer or float) field lies in the range.
    Range { field: String, range: NumberRange },
    /// The RFC 3339 field lies in the range.
    Datetime { field: String, range: DatetimeRange },
}

impl Condition {
    pub fn keyword(field: impl Into<String>, value: impl Into<String>) -> Self {
        Condition::Keyword {
            field: field.into(),
            any_of: vec![value.into()],
        }
    }

    pub fn keyword_any<S: Into<String>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        Condition::Keyword {
            field: field.into(),
            any_of: values.into_iter().map(Into::into).collect(),
        }
    }

    pub fn integer_any(field: impl Into<String>, values: impl IntoIterator<Item = i64>) -> Self {
        Condition::Integer {
            field: field.into(),
            any_of: values.into_iter().collect(),
        }
    }

    pub fn range(field: impl Into<String>, range: NumberRange) -> Self {
        Condition::Range {
            field: field.into(),
            range,
        }
    }

    pub fn datetime(field: impl Into<String>, range: DatetimeRange) -> Self {
        Condition::Datetime {
            field: field.into(),
            range,
        }
    }

    pub fn field(&self) -> &str {
        match self {
            Condition::Keyword { field, .. }
            | Condition::Integer { field, .. }
            | Condition::Range { field, .. }
            | Condition::Datetime { field, .. } => field,
        }
    }

    fn validate(&self) -> Result<(), VectorError> {
        let field = self.field();
        if field.is_empty() {
            return Err(VectorError::InvalidRequest(
                "filter condition has an empty field name".into(),
            ));
        }
        let empty_set = match self {
            Condition::Keyword { any_of, .. } => any_of.is_empty(),
            Condition::Integer { any_of, .. } => any_of.is_empty(),
            Condition::Range { range, .. } => {
                let bounds = [range.gt, range.gte, range.lt, range.lte];
                if bounds.iter().flatten().any(|bound| !bound.is_finite()) {
                    return Err(VectorError::InvalidRequest(format!(
                        "range on `{field}` has a bound that is not a finite number"
                    )));
                }
                bounds.iter().all(Option::is_none)
            }
            Condition::Datetime { range, .. } => [range.gt, range.gte, range.lt, range.lte]
                .iter()
                .all(Option::is_none),
        };
        if empty_set {
            return Err(VectorError::InvalidRequest(format!(
                "condition on `{field}` needs at least one value or bound"
            )));
        }
        Ok(())
    }
}

/// Numeric bounds; unset bounds are open.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NumberRange {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
}

/// Time bounds; unset bounds are open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatetimeRange {
    pub gt: Option<DateTime<Utc>>,
    pub gte: Option<DateTime<Utc>>,
    pub lt: Option<DateTime<Utc>>,
    pub lte: Option<DateTime<Utc>>,
}

impl DatetimeRange {
    /// `from <= t < until`.
    pub fn between(from: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Self {
            gte: Some(from),
            lt: Some(until),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_conditions_are_rejected() {
        let empty = Filter::must(Condition::keyword_any("tags", Vec::<String>::new()));
        assert!(empty.validate().is_err());
        let open = Filter::must(Condition::range("n", NumberRange::default()));
        assert!(open.validate().is_err());
        let nan = Filter::must(Condition::range(
            "n",
            NumberRange {
                gt: Some(f64::NAN),
                ..NumberRange::default()
            },
        ));
        assert!(nan.validate().is_err());
    }
}
