use serde_json::json;

use super::*;
use crate::legacy::time::Reading;

fn line(value: Value) -> Result<LegacyRecord, Skip> {
    interpret(RawRecord {
        at: Location::Line(1),
        value: Ok(value),
    })
}

#[test]
fn fields_at_the_top_level_win_over_nested_ones() {
    let record = line(json!({
        "id": 7, "pageContent": "Lifetimes", "source": "notes", "tags": "rust, ,borrow",
        "metadata": {"source": "nested", "type": "note", "path": "a.md", "tags": ["x"]},
        "timestamp": "1700000000000"
    }))
    .unwrap();
    assert_eq!(record.id, Some(LegacyId::Text("7".into())));
    assert_eq!(
        (record.text.as_str(), record.text_field),
        ("Lifetimes", "pageContent")
    );
    assert_eq!(record.kind.as_deref(), Some("note"));
    assert_eq!(record.path.as_deref(), Some("a.md"));
    assert_eq!(record.tags, ["rust", "borrow"]);
    assert_eq!(record.metadata["legacy_source"], "notes");
    assert_eq!(
        record.metadata["source"], "nested",
        "the record's metadata is kept"
    );
    assert_eq!(record.metadata["legacy_created_at"], "1700000000000");
    assert!(matches!(
        record.time,
        Some(Time::At(_, Reading::UnixMillis))
    ));
}

#[test]
fn nothing_given_is_dropped() {
    let record = line(json!({
        "content": "first", "text": "second", "title": {"nested": true},
        "author": "ada", "metadata": [1, 2], "type": "Code Snippet!"
    }))
    .unwrap();
    assert_eq!(record.text, "first");
    assert_eq!(
        record.metadata["legacy_fields"],
        json!({"text": "second", "title": {"nested": true}, "author": "ada"})
    );
    assert_eq!(record.metadata["legacy_metadata"], json!([1, 2]));
    assert_eq!(record.kind.as_deref(), Some("code_snippet"));
    assert_eq!(record.metadata["legacy_type"], "Code Snippet!");
    assert_eq!(record.title, None);
}

#[test]
fn ids_keep_their_meaning() {
    let id = |value: Value| line(json!({"text": "t", "id": value})).map(|r| r.id);
    let uuid = "5F0C8A4E-1B2C-4D3E-8F90-A1B2C3D4E5F6";
    assert_eq!(
        id(json!(uuid)),
        Ok(Some(LegacyId::Uuid(Uuid::parse_str(uuid).unwrap())))
    );
    assert_eq!(
        id(json!(uuid.replace('-', ""))),
        Ok(Some(LegacyId::Text(uuid.replace('-', ""))))
    );
    assert_eq!(id(json!(" a-1 ")), Ok(Some(LegacyId::Text("a-1".into()))));
    assert_eq!(id(json!(42.0)), Ok(Some(LegacyId::Text("42".into()))));
    assert_eq!(id(json!("")), Ok(None));
    assert_eq!(id(json!(null)), Ok(None));
    assert_eq!(id(json!([1])), Err(Skip::UnusableId("array")));
    let point = interpret(RawRecord {
        at: Location::Point(PointId::Num(9)),
        value: Ok(json!({"text": "t", "id": "payload id"})),
    })
    .unwrap();
    assert_eq!(point.id, Some(LegacyId::Point(9)));
    assert_eq!(point.metadata["legacy_fields"], json!({"id": "payload id"}));
}

#[test]
fn records_without_text_or_shape_are_skipped() {
    assert_eq!(
        line(json!({"content": "  \n", "text": ""})),
        Err(Skip::NoText)
    );
    assert_eq!(line(json!({"content": 5})), Err(Skip::NoText));
    assert_eq!(line(json!(12)), Err(Skip::NotARecord("number")));
    let bare = line(json!("just text")).unwrap();
    assert_eq!(
        (bare.text.as_str(), bare.text_field),
        ("just text", "content")
    );
    let unreadable = interpret(RawRecord {
        at: Location::Line(3),
        value: Err("bad".into()),
    });
    assert_eq!(unreadable, Err(Skip::InvalidJson("bad".into())));
}

#[test]
fn records_without_an_id_are_keyed_by_their_text() {
    let record = line(json!({"text": "abc"})).unwrap();
    assert_eq!(
        record.external_id(),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn types_are_cleaned_into_what_the_service_accepts() {
    assert_eq!(clean_kind("Note").as_deref(), Some("note"));
    assert_eq!(
        clean_kind("  web page / html ").as_deref(),
        Some("web_page_html")
    );
    assert_eq!(clean_kind("笔记"), None);
    assert_eq!(clean_kind(&"a".repeat(80)).map(|k| k.len()), Some(50));
}
