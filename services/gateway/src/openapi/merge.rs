//! Merging the services' OpenAPI documents into one.
//!
//! Rules, applied to the services in order (auth, project, memory):
//! - `paths`: a path, or an operation under it, already taken keeps its first owner.
//! - `components.*`: identical entries are shared (every service ships the platform's
//!   `ApiErrorBody`); a name reused for something different is renamed to
//!   `<service>_<name>` in that service's document, its `$ref`s included.
//! - `securitySchemes` are referenced by bare name, so the first definition wins.
//! - a service's top-level `security` is copied onto its operations that declare none,
//!   since the merged document has no top-level requirement.
//! - `tags`: first description per name wins; `servers` are dropped (the gateway is the
//!   only origin); `info` is the gateway's.
//! - a service whose document could not be fetched is listed in `x-unavailable`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One service's document, or why there is none.
pub struct ServiceSpec {
    pub service: &'static str,
    pub document: Result<Value, String>,
}

pub fn merge(specs: Vec<ServiceSpec>) -> Value {
    let mut openapi_version: Option<Value> = None;
    let mut paths = Map::new();
    let mut components = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    let mut included = Vec::new();
    let mut unavailable = Vec::new();

    for spec in specs {
        let mut document = match spec.document {
            Ok(document) => document,
            Err(reason) => {
                unavailable.push(json!({ "service": spec.service, "reason": reason }));
                continue;
            }
        };
        included.push(spec.service);
        openapi_version.get_or_insert_with(|| document["openapi"].clone());
        rename_conflicting_components(spec.service, &mut document, &components);
        push_down_security(&mut document);
        merge_paths(&mut paths, take_object(&mut document, "paths"));
        merge_components(&mut components, take_object(&mut document, "components"));
        for tag in take_array(&mut document, "tags") {
            if !tags.iter().any(|known| known["name"] == tag["name"]) {
                tags.push(tag);
            }
        }
    }

    let mut merged = json!({
        "openapi": openapi_version.filter(Value::is_string).unwrap_or_else(|| json!("3.1.0")),
        "info": {
            "title": "DevMentor API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "All DevMentor services behind one origin. Included: {}.",
                if included.is_empty() { "none".to_owned() } else { included.join(", ") }
            ),
        },
        "paths": paths,
        "components": components,
        "tags": tags,
    });
    if !unavailable.is_empty() {
        merged["x-unavailable"] = Value::Array(unavailable);
    }
    merged
}

fn take_object(document: &mut Value, key: &str) -> Map<String, Value> {
    match document.get_mut(key).map(Value::take) {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

fn take_array(document: &mut Value, key: &str) -> Vec<Value> {
    match document.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn merge_paths(merged: &mut Map<String, Value>, incoming: Map<String, Value>) {
    for (path, item) in incoming {
        match (merged.get_mut(&path), item) {
            (None, item) => {
                merged.insert(path, item);
            }
            (Some(Value::Object(existing)), Value::Object(item)) => {
                for (key, value) in item {
                    if existing.contains_key(&key) {
                        tracing::warn!(path, key, "two services describe the same operation");
                    } else {
                        existing.insert(key, value);
                    }
                }
            }
            (Some(_), _) => tracing::warn!(path, "malformed path item ignored"),
        }
    }
}

fn merge_components(merged: &mut Map<String, Value>, incoming: Map<String, Value>) {
    for (section, entries) in incoming {
        let Value::Object(entries) = entries else {
            continue;
        };
        let target = merged
            .entry(section.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(target) = target else {
            continue;
        };
        for (name, entry) in entries {
            match target.get(&name) {
                None => {
                    target.insert(name, entry);
                }
                Some(existing) if *existing != entry => {
                    // Only security schemes get here: other sections were renamed first.
                    tracing::warn!(section, name, "conflicting component; keeping the first");
                }
                Some(_) => {}
            }
        }
    }
}

/// Renames this document's components that clash with different ones already merged, and
/// rewrites every `$ref` to them.
fn rename_conflicting_components(service: &str, document: &mut Value, merged: &Map<String, Value>) {
    let mut renames: HashMap<String, String> = HashMap::new();
    let Some(Value::Object(sections)) = document.get_mut("components") else {
        return;
    };
    for (section, entries) in sections.iter_mut() {
        if section == "securitySchemes" {
            continue;
        }
        let (Value::Object(entries), Some(Value::Object(known))) = (entries, merged.get(section))
        else {
            continue;
        };
        let clashing: Vec<String> = entries
            .iter()
            .filter(|(name, entry)| known.get(*name).is_some_and(|existing| existing != *entry))
            .map(|(name, _)| name.clone())
            .collect();
        for name in clashing {
            let mut renamed = format!("{service}_{name}");
            while known.contains_key(&renamed) || entries.contains_key(&renamed) {
                renamed.insert(0, '_');
            }
            if let Some(entry) = entries.remove(&name) {
                entries.insert(renamed.clone(), entry);
            }
            renames.insert(
                format!("#/components/{section}/{name}"),
                format!("#/components/{section}/{renamed}"),
            );
        }
    }
    if !renames.is_empty() {
        rewrite_refs(document, &renames);
    }
}

fn rewrite_refs(value: &mut Value, renames: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                match child {
                    Value::String(target) if key == "$ref" => {
                        if let Some(renamed) = renames.get(target.as_str()) {
                            *target = renamed.clone();
                        }
                    }
                    _ => rewrite_refs(child, renames),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, renames)),
        _ => {}
    }
}

fn push_down_security(document: &mut Value) {
    let Some(security) = document.get_mut("security").map(Value::take) else {
        return;
    };
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for item in paths.values_mut() {
        for method in OPERATIONS {
            if let Some(Value::Object(operation)) = item.get_mut(method) {
                operation
                    .entry("security")
                    .or_insert_with(|| security.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(service: &'static str, document: Value) -> ServiceSpec {
        ServiceSpec {
            service,
            document: Ok(document),
        }
    }

    #[test]
    fn same_name_different_schema_is_renamed_with_its_refs() {
        let first = json!({
            "paths": {"/a": {"get": {"responses": {"200": {"$ref": "#/components/schemas/View"}}}}},
            "components": {"schemas": {"View": {"type": "string"}, "Error": {"type": "object"}}},
        });
        let second = json!({
            "paths": {"/b": {"get": {"responses": {"200": {"$ref": "#/components/schemas/View"}}}}},
            "components": {"schemas": {"View": {"type": "integer"}, "Error": {"type": "object"}}},
        });
        let merged = merge(vec![spec("auth", first), spec("project", second)]);
        let schemas = &merged["components"]["schemas"];
        assert_eq!(schemas["View"]["type"], "string");
        assert_eq!(schemas["project_View"]["type"], "integer");
        assert_eq!(
            schemas.as_object().unwrap().len(),
            3,
            "Error is shared: {schemas}"
        );
        assert_eq!(
            merged["paths"]["/a"]["get"]["responses"]["200"]["$ref"],
            "#/components/schemas/View"
        );
        assert_eq!(
            merged["paths"]["/b"]["get"]["responses"]["200"]["$ref"],
            "#/components/schemas/project_View"
        );
    }

    #[test]
    fn top_level_security_moves_onto_operations_without_their_own() {
        let document = json!({
            "security": [{"bearer": []}],
            "paths": {"/p": {
                "get": {},
                "post": {"security": []},
            }},
        });
        let merged = merge(vec![spec("project", document)]);
        assert_eq!(
            merged["paths"]["/p"]["get"]["security"],
            json!([{"bearer": []}])
        );
        assert_eq!(merged["paths"]["/p"]["post"]["security"], json!([]));
        assert!(merged.get("security").is_none());
    }

    #[test]
    fn first_owner_of_an_operation_and_a_tag_wins() {
        let first = json!({"paths": {"/x": {"get": {"summary": "first"}}},
                           "tags": [{"name": "t", "description": "first"}]});
        let second = json!({"paths": {"/x": {"get": {"summary": "second"}, "post": {}}},
                            "tags": [{"name": "t", "description": "second"}, {"name": "u"}]});
        let merged = merge(vec![spec("auth", first), spec("memory", second)]);
        assert_eq!(merged["paths"]["/x"]["get"]["summary"], "first");
        assert!(merged["paths"]["/x"]["post"].is_object());
        assert_eq!(
            merged["tags"],
            json!([{"name": "t", "description": "first"}, {"name": "u"}])
        );
    }
}
